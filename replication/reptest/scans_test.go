package reptest

import (
	"testing"

	"pgregory.net/rapid"
)

func TestMemScans(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		m, model := NewMem(), map[string][]byte{}
		RandomWrites(t, m, model, "writes")
		CheckScans(t, m, model)
	})
}
