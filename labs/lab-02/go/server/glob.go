package main

// globMatch reports whether s matches a Redis glob pattern: '*' matches
// any run of bytes (including '/', unlike path.Match), '?' any one byte,
// "[...]" one byte from a set (a leading '^' negates it, "a-z" is a range)
// and '\' makes the next byte literal. Like Redis, it accepts every
// pattern: a malformed one simply matches what it literally says.
func globMatch(pattern, s []byte) bool {
	// The position after the last '*' and the byte of s it is tried
	// against, for backtracking.
	star, retry := -1, 0
	p, i := 0, 0
	for i < len(s) {
		if p < len(pattern) {
			switch c := pattern[p]; c {
			case '*':
				star, retry = p+1, i
				p++
				continue
			case '?':
				p++
				i++
				continue
			case '[':
				if next, ok := matchClass(pattern, p, s[i]); ok {
					p = next
					i++
					continue
				}
			case '\\':
				if p+1 < len(pattern) && pattern[p+1] == s[i] {
					p += 2
					i++
					continue
				}
				if p+1 == len(pattern) && c == s[i] {
					p++
					i++
					continue
				}
			default:
				if c == s[i] {
					p++
					i++
					continue
				}
			}
		}
		if star < 0 {
			return false
		}
		// Let the last '*' swallow one more byte and try again.
		retry++
		p, i = star, retry
	}
	for p < len(pattern) && pattern[p] == '*' {
		p++
	}
	return p == len(pattern)
}

// matchClass matches byte b against the class starting at pattern[p] ('[')
// and returns the position after the class. An unterminated class runs to
// the end of the pattern, as in Redis.
func matchClass(pattern []byte, p int, b byte) (int, bool) {
	p++
	negate := p < len(pattern) && pattern[p] == '^'
	if negate {
		p++
	}
	found := false
	for p < len(pattern) && pattern[p] != ']' {
		switch {
		case pattern[p] == '\\' && p+1 < len(pattern):
			p++
			found = found || pattern[p] == b
		case p+2 < len(pattern) && pattern[p+1] == '-' && pattern[p+2] != ']':
			lo, hi := pattern[p], pattern[p+2]
			if lo > hi {
				lo, hi = hi, lo
			}
			found = found || (lo <= b && b <= hi)
			p += 2
		default:
			found = found || pattern[p] == b
		}
		p++
	}
	if p < len(pattern) {
		p++ // the ']'
	}
	return p, found != negate
}
