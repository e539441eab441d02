package server

import "strings"

// mailboxKey is the mailbox an address (already normalised) names, as the
// limits and the mail throttle key on it: lower case, as the database
// compares addresses, and without a +tag (everything from the first '+' of
// the local part to the '@'), since the big providers deliver a+x@ and a@ to
// one mailbox. Dots are kept: only some providers ignore them, and
// elsewhere a.b@ and ab@ are different people who must not share a budget.
func mailboxKey(addr string) string {
	addr = strings.ToLower(addr)
	at := strings.LastIndexByte(addr, '@')
	if at < 0 {
		return addr
	}
	if plus := strings.IndexByte(addr[:at], '+'); plus > 0 {
		return addr[:plus] + addr[at:]
	}
	return addr
}
