// Command server is the seed article's Go Redis clone, as small as it can
// be and still serve redis-benchmark, redis-cli and lab-03: a goroutine
// per connection, and every key in one Go map behind one sync.RWMutex
// (readers share it, writers take it alone). lab-02's `measure` builds it
// with Debian's Go and runs it beside lab-02's three models and
// redis-server, under the same redis-benchmark runs and in the same
// idle-connection memory experiment.
//
// It speaks RESP2 (array and inline requests) and knows PING, ECHO, GET,
// SET, MGET, MSET, INCR, DEL, EXISTS, DBSIZE, KEYS, FLUSHDB, FLUSHALL,
// SELECT 0, INFO, QUIT, and enough of CONFIG GET and COMMAND for
// redis-benchmark and redis-cli to start. Values are strings, SET takes no
// options. A malformed or oversized request gets an error reply and the
// connection is closed; a panic while serving one connection closes that
// connection, not the server.
package main

import (
	"bufio"
	"errors"
	"flag"
	"fmt"
	"io"
	"log"
	"net"
	"os"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// store is the keyspace: one map, one lock.
type store struct {
	mu sync.RWMutex
	m  map[string][]byte
}

type server struct {
	db         store
	clients    atomic.Int64
	maxClients int64
}

func main() {
	addr := flag.String("addr", "127.0.0.1", "address to listen on")
	port := flag.Int("port", 6379, "port to listen on (0: any free port)")
	maxClients := flag.Int64("maxclients", 10000, "connections served at once; more are refused")
	flag.Parse()

	ln, err := net.Listen("tcp", net.JoinHostPort(*addr, strconv.Itoa(*port)))
	if err != nil {
		log.Fatalf("go-server: %v", err)
	}
	// The ready line lab-02's launcher waits for.
	fmt.Printf("go-server listening on %s (pid %d)\n", ln.Addr(), os.Getpid())
	s := &server{db: store{m: make(map[string][]byte)}, maxClients: *maxClients}
	for {
		conn, err := ln.Accept()
		if err != nil {
			var ne net.Error
			if errors.As(err, &ne) && ne.Timeout() {
				continue
			}
			// Out of descriptors, say: keep serving the others, and pause
			// so that a persistent error does not spin a core.
			log.Printf("go-server: accept: %v", err)
			time.Sleep(10 * time.Millisecond)
			continue
		}
		if s.clients.Add(1) > s.maxClients {
			s.clients.Add(-1)
			conn.Write([]byte("-ERR max number of clients reached\r\n"))
			conn.Close()
			continue
		}
		go s.serve(conn)
	}
}

// serve is one connection's goroutine: read a request, run it, and send
// the replies once no further request is already buffered (so pipelined
// requests are answered in one write).
func (s *server) serve(conn net.Conn) {
	defer s.clients.Add(-1)
	defer conn.Close()
	defer func() {
		if p := recover(); p != nil {
			log.Printf("go-server: closing %s after a panic: %v", conn.RemoteAddr(), p)
		}
	}()
	r := bufio.NewReader(conn)
	w := bufio.NewWriter(conn)
	for {
		args, err := readRequest(r)
		if err != nil {
			var pe *protocolError
			if errors.As(err, &pe) {
				writeError(w, "ERR "+pe.Error())
				w.Flush()
				lingerClose(conn)
			} else if !errors.Is(err, io.EOF) {
				log.Printf("go-server: %s: %v", conn.RemoteAddr(), err)
			}
			return
		}
		if len(args) == 0 {
			continue
		}
		quit := s.run(w, args)
		if quit || r.Buffered() == 0 {
			if err := w.Flush(); err != nil || quit {
				return
			}
		}
	}
}

// lingerClose ends a connection the server gives up on without losing
// the error reply: closing a socket with unread input makes the kernel
// send a reset, which can discard the reply before the client reads it.
// So it shuts down its sending side and reads (and drops) what is still
// coming, up to a second and a MiB, before the deferred Close.
func lingerClose(conn net.Conn) {
	tc, ok := conn.(*net.TCPConn)
	if !ok {
		return
	}
	tc.CloseWrite()
	tc.SetReadDeadline(time.Now().Add(time.Second))
	io.Copy(io.Discard, io.LimitReader(tc, 1<<20))
}

// run executes one command and writes its reply; true means close.
func (s *server) run(w *bufio.Writer, args [][]byte) bool {
	name := strings.ToUpper(string(args[0]))
	if !arityOK(name, len(args)) {
		if _, known := arity[name]; known {
			writeError(w, fmt.Sprintf("ERR wrong number of arguments for '%s' command", strings.ToLower(name)))
		} else {
			writeError(w, fmt.Sprintf("ERR unknown command '%s'", truncate(args[0])))
		}
		return false
	}
	db := &s.db
	switch name {
	case "PING":
		if len(args) == 2 {
			writeBulk(w, args[1])
		} else {
			writeSimple(w, "PONG")
		}
	case "ECHO":
		writeBulk(w, args[1])
	case "GET":
		db.mu.RLock()
		v := db.m[string(args[1])]
		db.mu.RUnlock()
		writeBulk(w, v)
	case "SET":
		db.mu.Lock()
		db.m[string(args[1])] = args[2]
		db.mu.Unlock()
		writeSimple(w, "OK")
	case "MGET":
		// Look up under the lock, write after it: a write can block on a
		// client that does not read, and must not hold up the writers
		// (and, behind a waiting writer, every reader) meanwhile.
		vals := make([][]byte, len(args)-1)
		db.mu.RLock()
		for i, k := range args[1:] {
			vals[i] = db.m[string(k)]
		}
		db.mu.RUnlock()
		writeArrayHeader(w, len(vals))
		for _, v := range vals {
			writeBulk(w, v)
		}
	case "MSET":
		if len(args)%2 == 0 {
			writeError(w, "ERR wrong number of arguments for 'mset' command")
			break
		}
		db.mu.Lock()
		for i := 1; i < len(args); i += 2 {
			db.m[string(args[i])] = args[i+1]
		}
		db.mu.Unlock()
		writeSimple(w, "OK")
	case "INCR":
		db.mu.Lock()
		n, err := int64(0), error(nil)
		if v, ok := db.m[string(args[1])]; ok {
			n, err = strconv.ParseInt(string(v), 10, 64)
		}
		overflow := err == nil && n == 1<<63-1
		if err == nil && !overflow {
			n++
			db.m[string(args[1])] = []byte(strconv.FormatInt(n, 10))
		}
		db.mu.Unlock()
		if err != nil {
			writeError(w, "ERR value is not an integer or out of range")
		} else if overflow {
			writeError(w, "ERR increment or decrement would overflow")
		} else {
			writeInt(w, n)
		}
	case "DEL", "EXISTS":
		del := name == "DEL"
		n := int64(0)
		if del {
			db.mu.Lock()
		} else {
			db.mu.RLock()
		}
		for _, k := range args[1:] {
			if _, ok := db.m[string(k)]; ok {
				n++
				if del {
					delete(db.m, string(k))
				}
			}
		}
		if del {
			db.mu.Unlock()
		} else {
			db.mu.RUnlock()
		}
		writeInt(w, n)
	case "DBSIZE":
		db.mu.RLock()
		n := len(db.m)
		db.mu.RUnlock()
		writeInt(w, int64(n))
	case "KEYS":
		pattern := args[1]
		var keys []string
		db.mu.RLock()
		for k := range db.m {
			if globMatch(pattern, []byte(k)) {
				keys = append(keys, k)
			}
		}
		db.mu.RUnlock()
		writeArrayHeader(w, len(keys))
		for _, k := range keys {
			writeBulk(w, []byte(k))
		}
	case "FLUSHDB", "FLUSHALL":
		db.mu.Lock()
		db.m = make(map[string][]byte)
		db.mu.Unlock()
		writeSimple(w, "OK")
	case "SELECT":
		if string(args[1]) == "0" {
			writeSimple(w, "OK")
		} else {
			writeError(w, "ERR DB index is out of range")
		}
	case "CONFIG":
		config(w, args)
	case "COMMAND":
		// redis-cli asks for COMMAND DOCS at start-up; an empty answer
		// means "no hints".
		writeArrayHeader(w, 0)
	case "INFO":
		writeBulk(w, []byte("# Server\r\nredis_version:7.0.0\r\nserver_name:go-server\r\n"))
	case "QUIT":
		writeSimple(w, "OK")
		return true
	}
	return false
}

// arity is each command's argument count, the name included; negative
// means at least that many (Redis's convention).
var arity = map[string]int{
	"PING": -1, "ECHO": 2, "GET": 2, "SET": 3, "MGET": -2, "MSET": -3,
	"INCR": 2, "DEL": -2, "EXISTS": -2, "DBSIZE": 1, "KEYS": 2,
	"FLUSHDB": 1, "FLUSHALL": 1, "SELECT": 2, "CONFIG": -2, "COMMAND": -1,
	"INFO": -1, "QUIT": 1,
}

func arityOK(name string, n int) bool {
	a, ok := arity[name]
	if !ok {
		return false
	}
	if name == "PING" && n > 2 {
		return false
	}
	if a < 0 {
		return n >= -a
	}
	return n == a
}

// config answers CONFIG GET for the two parameters redis-benchmark reads
// at start-up (save, appendonly); every other parameter has no value.
func config(w *bufio.Writer, args [][]byte) {
	if !strings.EqualFold(string(args[1]), "GET") || len(args) != 3 {
		writeError(w, "ERR CONFIG supports only GET with one parameter here")
		return
	}
	values := map[string]string{"save": "", "appendonly": "no"}
	var pairs []string
	for name, v := range values {
		if globMatch([]byte(strings.ToLower(string(args[2]))), []byte(name)) {
			pairs = append(pairs, name, v)
		}
	}
	writeArrayHeader(w, len(pairs))
	for _, p := range pairs {
		writeBulk(w, []byte(p))
	}
}

// truncate keeps an error message short whatever a peer sent.
func truncate(b []byte) string {
	if len(b) > 64 {
		b = b[:64]
	}
	return strconv.Quote(string(b))[1 : len(strconv.Quote(string(b)))-1]
}
