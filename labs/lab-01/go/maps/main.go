// Command maps measures Go's answers to lab-01's question: a map behind
// one sync.RWMutex, a map split into shards behind sync.Mutex each, and
// sync.Map, under the same mix of reads and writes as lab-01's workload
// driver. lab-01's `measure` builds and runs it beside its own rwlock and
// sharded-mutex caches, alternating rounds, and reads the one JSON line it
// prints.
//
// What each goroutine does mirrors lab-01's worker loop
// (labs/lab-01/src/measure/workload.rs): it draws a ring of 65,536
// operations (a key, and whether it is a write) before the clock starts,
// then replays the ring, looking at the stop flag every 64 operations and
// timing every 16th operation with time.Now.
package main

import (
	"encoding/json"
	"flag"
	"fmt"
	"math/rand"
	"os"
	"runtime"
	"sort"
	"sync"
	"sync/atomic"
	"time"
)

const (
	planLen  = 1 << 16 // operations drawn per goroutine, a power of two
	writeBit = 1 << 63 // marks a write; the key sits in the low bits
	batch    = 64      // operations between two looks at the stop flag
)

// store is what the workload needs from a map: read a key, write a key.
type store interface {
	read(key uint64) bool
	write(key, value uint64)
}

// rwMap is one map behind one sync.RWMutex: readers share it, a writer
// excludes everyone.
type rwMap struct {
	mu sync.RWMutex
	m  map[uint64]uint64
}

func (s *rwMap) read(key uint64) bool {
	s.mu.RLock()
	_, ok := s.m[key]
	s.mu.RUnlock()
	return ok
}

func (s *rwMap) write(key, value uint64) {
	s.mu.Lock()
	s.m[key] = value
	s.mu.Unlock()
}

// shard is one part of a sharded map, padded to 128 bytes like lab-01's
// shards so that two shards' locks never share a cache line.
type shard struct {
	mu sync.Mutex
	m  map[uint64]uint64
	_  [128 - 16]byte
}

// shardedMap picks a shard from a hash of the key and locks only that one.
type shardedMap struct {
	shards []shard
	shift  uint
}

func newSharded(n int, keys uint64) *shardedMap {
	bits := uint(0)
	for 1<<bits < n {
		bits++
	}
	s := &shardedMap{shards: make([]shard, 1<<bits), shift: 64 - bits}
	for i := range s.shards {
		s.shards[i].m = make(map[uint64]uint64, int(keys)/len(s.shards)+1)
	}
	return s
}

// pick takes the top bits of a multiplicative hash (Fibonacci hashing):
// cheap, and it spreads consecutive keys over every shard.
func (s *shardedMap) pick(key uint64) *shard {
	if s.shift == 64 {
		return &s.shards[0]
	}
	return &s.shards[(key*0x9E3779B97F4A7C15)>>s.shift]
}

func (s *shardedMap) read(key uint64) bool {
	sh := s.pick(key)
	sh.mu.Lock()
	_, ok := sh.m[key]
	sh.mu.Unlock()
	return ok
}

func (s *shardedMap) write(key, value uint64) {
	sh := s.pick(key)
	sh.mu.Lock()
	sh.m[key] = value
	sh.mu.Unlock()
}

// syncMap is the standard library's concurrent map.
type syncMap struct{ m sync.Map }

func (s *syncMap) read(key uint64) bool {
	_, ok := s.m.Load(key)
	return ok
}

func (s *syncMap) write(key, value uint64) { s.m.Store(key, value) }

// result is the line this program prints.
type result struct {
	Impl      string  `json:"impl"`
	Threads   int     `json:"threads"`
	Ops       uint64  `json:"ops"`
	OpsPerSec float64 `json:"ops_per_sec"`
	ReadHits  uint64  `json:"read_hits"`
	P50Ns     int64   `json:"p50_ns"`
	P99Ns     int64   `json:"p99_ns"`
	Samples   int     `json:"samples"`
}

type workerResult struct {
	ops, hits uint64
	elapsed   time.Duration
	samples   []int64
}

func drawPlan(seed int64, keys uint64, reads float64) []uint64 {
	rng := rand.New(rand.NewSource(seed))
	plan := make([]uint64, planLen)
	for i := range plan {
		key := uint64(rng.Int63n(int64(keys)))
		if rng.Float64() >= reads {
			key |= writeBit
		}
		plan[i] = key
	}
	return plan
}

func worker(s store, plan []uint64, stop *atomic.Bool, every uint64, capacity int, start *sync.WaitGroup, out *workerResult) {
	mask := uint64(len(plan) - 1)
	sampleMask := every - 1
	var ops, hits, i uint64
	// Sized before the clock starts, so that no append inside the timed
	// loop reallocates (and no garbage is made there): Rust's side records
	// into a histogram allocated up front.
	samples := make([]int64, 0, capacity)
	start.Wait()
	began := time.Now()
	for !stop.Load() {
		for n := 0; n < batch; n++ {
			op := plan[i&mask]
			i++
			key := op &^ writeBit
			timed := i&sampleMask == 0
			var t0 time.Time
			if timed {
				t0 = time.Now()
			}
			if op&writeBit == 0 {
				if s.read(key) {
					hits++
				}
			} else {
				s.write(key, i)
			}
			if timed {
				samples = append(samples, int64(time.Since(t0)))
			}
		}
		ops += batch
	}
	*out = workerResult{ops: ops, hits: hits, elapsed: time.Since(began), samples: samples}
}

func quantile(sorted []int64, q float64) int64 {
	if len(sorted) == 0 {
		return 0
	}
	i := int(q * float64(len(sorted)))
	if i >= len(sorted) {
		i = len(sorted) - 1
	}
	return sorted[i]
}

func main() {
	impl := flag.String("impl", "rwmutex", "rwmutex, sharded or syncmap")
	threads := flag.Int("threads", 1, "worker goroutines; GOMAXPROCS is set to the same number")
	reads := flag.Float64("reads", 0.9, "share of operations that are reads, 0 to 1")
	keys := flag.Uint64("keys", 100000, "keys 0..keys are inserted before the run")
	shards := flag.Int("shards", 64, "shards of the sharded map (a power of two)")
	duration := flag.Duration("duration", 500*time.Millisecond, "how long the workers run")
	every := flag.Uint64("latency-every", 16, "time one operation in this many (a power of two)")
	seed := flag.Int64("seed", 1, "seed of the operation plans")
	flag.Parse()

	if *threads < 1 || *keys == 0 || *keys >= writeBit || *reads < 0 || *reads > 1 ||
		*every == 0 || *every&(*every-1) != 0 || *shards < 1 || *shards&(*shards-1) != 0 {
		fmt.Fprintln(os.Stderr, "maps: invalid arguments (see -help)")
		os.Exit(2)
	}
	runtime.GOMAXPROCS(*threads)

	var s store
	switch *impl {
	case "rwmutex":
		s = &rwMap{m: make(map[uint64]uint64, int(*keys))}
	case "sharded":
		s = newSharded(*shards, *keys)
	case "syncmap":
		s = &syncMap{}
	default:
		fmt.Fprintf(os.Stderr, "maps: unknown -impl %q: rwmutex, sharded or syncmap\n", *impl)
		os.Exit(2)
	}
	for k := uint64(0); k < *keys; k++ {
		s.write(k, k)
	}
	plans := make([][]uint64, *threads)
	for t := range plans {
		plans[t] = drawPlan(*seed*1000+int64(t), *keys, *reads)
	}
	// Room for every sample at up to 200 million operations a second per
	// worker, far above what one core reaches on these maps.
	capacity := int(duration.Seconds()*2e8/float64(*every)) + 1024
	// The prefill and the plans are garbage-free from here on; collect
	// now so that a collection does not land in the measured interval.
	runtime.GC()

	var stop atomic.Bool
	var start, done sync.WaitGroup
	start.Add(1)
	results := make([]workerResult, *threads)
	for t := 0; t < *threads; t++ {
		done.Add(1)
		go func(t int) {
			defer done.Done()
			worker(s, plans[t], &stop, *every, capacity, &start, &results[t])
		}(t)
	}
	start.Done()
	time.Sleep(*duration)
	stop.Store(true)
	done.Wait()

	out := result{Impl: *impl, Threads: *threads}
	var all []int64
	for _, r := range results {
		out.Ops += r.ops
		out.ReadHits += r.hits
		out.OpsPerSec += float64(r.ops) / r.elapsed.Seconds()
		all = append(all, r.samples...)
	}
	sort.Slice(all, func(i, j int) bool { return all[i] < all[j] })
	out.P50Ns, out.P99Ns, out.Samples = quantile(all, 0.5), quantile(all, 0.99), len(all)
	if err := json.NewEncoder(os.Stdout).Encode(out); err != nil {
		fmt.Fprintln(os.Stderr, "maps:", err)
		os.Exit(1)
	}
}
