package reptest

import (
	"testing"

	"pgregory.net/rapid"
)

func TestMemScans(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		m, model := NewMem(), map[string][]byte{}
		for range rapid.IntRange(0, 20).Draw(t, "writes") {
			k := TxKey(t, "key")
			if rapid.Bool().Draw(t, "delete") {
				m.Delete(k)
				delete(model, string(k))
				continue
			}
			v := []byte{byte(len(model))}
			m.Set(k, v)
			model[string(k)] = v
		}
		CheckScans(t, m, model)
	})
}
