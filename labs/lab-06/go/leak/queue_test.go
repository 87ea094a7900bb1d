package leak

import (
	"os"
	"testing"

	"go.uber.org/goleak"
)

// kept stands for the struct that outlives its use: the caller is done
// with the queue, but something still holds it, so nobody closes it.
var kept *Queue

// TestSenderKeptLeaks leaks on purpose, so that goleak's report can be
// shown; it runs only when LAB06_SHOW_LEAK is set (lab-06's measure sets
// it), so `go test` on this package passes.
func TestSenderKeptLeaks(t *testing.T) {
	if os.Getenv("LAB06_SHOW_LEAK") == "" {
		t.Skip("leaks on purpose; set LAB06_SHOW_LEAK=1 to see goleak's report")
	}
	defer goleak.VerifyNone(t)
	q := NewQueue()
	q.Submit(1)
	kept = q
}

// TestSenderKeptFixed closes the queue when done with it: no leak.
func TestSenderKeptFixed(t *testing.T) {
	defer goleak.VerifyNone(t)
	q := NewQueue()
	q.Submit(1)
	q.Close()
}
