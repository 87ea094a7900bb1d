// Package leak is lab-06's "sender-kept" leak written in Go, for goleak to
// catch: a worker ranges over a channel that nobody closes, because the
// struct that owns its sending side lives on. lab-06's `measure` builds
// the test binary with Debian's Go and goleak (golang-uber-goleak-dev)
// and shows goleak's report beside lab-06's report of the same leak.
package leak

// Queue hands jobs to a worker goroutine, which passes each result to a
// second goroutine that drains them.
type Queue struct {
	jobs chan int
}

// NewQueue starts the worker and the drain. The worker ends when jobs is
// closed, and closing done then ends the drain.
func NewQueue() *Queue {
	jobs := make(chan int, 16)
	done := make(chan int, 16)
	go func() { // the worker
		defer close(done)
		for job := range jobs {
			done <- job * 2
		}
	}()
	go func() { // the drain
		for range done {
		}
	}()
	return &Queue{jobs: jobs}
}

// Submit queues one job.
func (q *Queue) Submit(job int) { q.jobs <- job }

// Close tells the worker no more jobs come; both goroutines then end.
func (q *Queue) Close() { close(q.jobs) }
