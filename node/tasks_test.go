package node

import (
	"testing"
	"time"
)

func TestTaskPause(t *testing.T) {
	for _, c := range []struct{ took, want time.Duration }{
		{10 * time.Millisecond, taskEvery},
		{time.Second, 9 * time.Second},
		{0, taskEvery},
	} {
		if got := taskPause(c.took, taskEvery); got != c.want {
			t.Errorf("taskPause(%v) = %v, want %v", c.took, got, c.want)
		}
	}
}
