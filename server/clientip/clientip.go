// Package clientip finds the client's address: the socket peer, unless that
// peer is a trusted proxy, in which case the forwarding headers it appended
// are read from the right, skipping further trusted proxies.
package clientip

import (
	"net"
	"net/http"
	"net/netip"
	"strings"
)

// Extractor returns the client address of a request.
type Extractor struct {
	trusted []netip.Prefix
}

// New trusts the proxies in cidrs ("10.0.0.0/8", "192.0.2.7/32", ...).
func New(cidrs []string) (*Extractor, error) {
	e := &Extractor{}
	for _, c := range cidrs {
		p, err := netip.ParsePrefix(strings.TrimSpace(c))
		if err != nil {
			return nil, err
		}
		e.trusted = append(e.trusted, p.Masked())
	}
	return e, nil
}

// ClientIP implements echo.IPExtractor.
func (e *Extractor) ClientIP(r *http.Request) string {
	peer, ok := parseAddr(r.RemoteAddr)
	if !ok {
		return r.RemoteAddr
	}
	if !e.isTrusted(peer) {
		return peer.String()
	}
	// Each proxy appends the address it received from; walk back from the
	// nearest until an address we do not trust: that one is the client.
	hops := forwardedFor(r.Header)
	for i := len(hops) - 1; i >= 0; i-- {
		addr, ok := parseAddr(hops[i])
		if !ok {
			break // garbage: stop at the last address we could vouch for
		}
		peer = addr
		if !e.isTrusted(addr) {
			break
		}
	}
	return peer.String()
}

func (e *Extractor) isTrusted(a netip.Addr) bool {
	for _, p := range e.trusted {
		if p.Contains(a) {
			return true
		}
	}
	return false
}

// forwardedFor lists the hop addresses, oldest first, from Forwarded
// (RFC 7239) when present, else from X-Forwarded-For.
func forwardedFor(h http.Header) []string {
	var hops []string
	if fwd := h.Values("Forwarded"); len(fwd) > 0 {
		for _, elem := range strings.Split(strings.Join(fwd, ","), ",") {
			for _, pair := range strings.Split(elem, ";") {
				k, v, ok := strings.Cut(strings.TrimSpace(pair), "=")
				if ok && strings.EqualFold(k, "for") {
					hops = append(hops, strings.Trim(v, `"`))
				}
			}
		}
		return hops
	}
	for _, v := range h.Values("X-Forwarded-For") {
		for _, a := range strings.Split(v, ",") {
			hops = append(hops, strings.TrimSpace(a))
		}
	}
	return hops
}

// parseAddr reads "ip", "ip:port", "[v6]" or "[v6]:port".
func parseAddr(s string) (netip.Addr, bool) {
	if host, _, err := net.SplitHostPort(s); err == nil {
		s = host
	}
	a, err := netip.ParseAddr(strings.Trim(s, "[]"))
	if err != nil {
		return netip.Addr{}, false
	}
	return a.Unmap(), true
}
