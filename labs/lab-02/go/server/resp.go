package main

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"strconv"
)

// Limits on what one request may hold. A peer that sends more gets a
// protocol error and is disconnected, like Redis does, instead of making
// the server allocate whatever a length prefix asks for.
const (
	maxArgs    = 1 << 20  // elements of one array request
	maxBulk    = 16 << 20 // bytes of one argument
	maxRequest = 64 << 20 // bytes of all the arguments of one request
	// Inline requests and length lines must fit in the reader's buffer
	// (bufio.ErrBufferFull otherwise).
)

// protocolError is a request the server cannot parse: it replies with
// the message and closes the connection.
type protocolError struct{ msg string }

func (e *protocolError) Error() string { return "Protocol error: " + e.msg }

func protoErr(format string, args ...any) error {
	return &protocolError{msg: fmt.Sprintf(format, args...)}
}

// readLine returns one line without its line ending. strict requires
// "\r\n" (the length lines of array requests); inline requests may end in
// a bare "\n", as redis-cli's and telnet's do.
func readLine(r *bufio.Reader, strict bool) ([]byte, error) {
	line, err := r.ReadSlice('\n')
	if errors.Is(err, bufio.ErrBufferFull) {
		return nil, protoErr("too big inline request")
	}
	if err != nil {
		return nil, err
	}
	line = line[:len(line)-1]
	if n := len(line); n > 0 && line[n-1] == '\r' {
		return line[:n-1], nil
	}
	if strict {
		return nil, protoErr("expected '\\r\\n' after a length")
	}
	return line, nil
}

// readLength reads "<prefix><digits>\r\n" and checks it is within limit.
func readLength(r *bufio.Reader, prefix byte, what string, limit int64) (int64, error) {
	line, err := readLine(r, true)
	if err != nil {
		return 0, err
	}
	if len(line) == 0 || line[0] != prefix {
		got := "end of line"
		if len(line) > 0 {
			got = strconv.QuoteRune(rune(line[0]))
		}
		return 0, protoErr("expected '%c', got %s", prefix, got)
	}
	n, err := strconv.ParseInt(string(line[1:]), 10, 64)
	if err != nil || n > limit {
		return 0, protoErr("invalid %s length", what)
	}
	return n, nil
}

// readRequest reads one request: an array of bulk strings (what clients
// send) or an inline line of space-separated words (what a person types).
// It returns nil arguments for an empty request, which the caller skips.
func readRequest(r *bufio.Reader) ([][]byte, error) {
	first, err := r.Peek(1)
	if err != nil {
		return nil, err
	}
	if first[0] != '*' {
		line, err := readLine(r, false)
		if err != nil {
			return nil, err
		}
		var args [][]byte
		for _, f := range bytes.Fields(line) {
			args = append(args, append([]byte(nil), f...))
		}
		return args, nil
	}
	n, err := readLength(r, '*', "multibulk", maxArgs)
	if err != nil || n <= 0 {
		return nil, err
	}
	args := make([][]byte, 0, capAt(n, 64))
	total := int64(0)
	for i := int64(0); i < n; i++ {
		size, err := readLength(r, '$', "bulk", maxBulk)
		if err != nil {
			return nil, err
		}
		if size < 0 {
			return nil, protoErr("invalid bulk length")
		}
		if total += size; total > maxRequest {
			return nil, protoErr("request larger than %d bytes", maxRequest)
		}
		arg := make([]byte, size+2)
		if _, err := io.ReadFull(r, arg); err != nil {
			return nil, err
		}
		if arg[size] != '\r' || arg[size+1] != '\n' {
			return nil, protoErr("expected '\\r\\n' after a bulk string")
		}
		args = append(args, arg[:size])
	}
	return args, nil
}

// capAt is the smaller of a and b.
func capAt(a, b int64) int64 {
	if a < b {
		return a
	}
	return b
}

// Replies, in RESP2.

func writeSimple(w *bufio.Writer, s string) {
	w.WriteByte('+')
	w.WriteString(s)
	w.WriteString("\r\n")
}

func writeError(w *bufio.Writer, s string) {
	w.WriteByte('-')
	w.WriteString(s)
	w.WriteString("\r\n")
}

func writeInt(w *bufio.Writer, n int64) {
	w.WriteByte(':')
	w.WriteString(strconv.FormatInt(n, 10))
	w.WriteString("\r\n")
}

func writeBulk(w *bufio.Writer, b []byte) {
	if b == nil {
		w.WriteString("$-1\r\n")
		return
	}
	w.WriteByte('$')
	w.WriteString(strconv.Itoa(len(b)))
	w.WriteString("\r\n")
	w.Write(b)
	w.WriteString("\r\n")
}

func writeArrayHeader(w *bufio.Writer, n int) {
	w.WriteByte('*')
	w.WriteString(strconv.Itoa(n))
	w.WriteString("\r\n")
}
