// Package clientip finds the client's address: the socket peer, unless that
// peer is a trusted proxy, in which case the forwarding headers it appended
// are read from the right, skipping further trusted proxies.
package clientip

import (
	"fmt"
	"net"
	"net/http"
	"net/netip"
	"strings"
)

// Extractor returns the client address of a request.
type Extractor struct {
	trusted []netip.Prefix
	header  string
}

// Headers the trusted proxies may report the client in.
const (
	HeaderXForwardedFor = "X-Forwarded-For"
	HeaderForwarded     = "Forwarded"
)

// New trusts the proxies in cidrs ("10.0.0.0/8", "192.0.2.7/32", ...), which
// report the client in header (HeaderXForwardedFor or HeaderForwarded). Only
// that header is read: a proxy appends to its own header and passes the
// other through as the client sent it.
func New(cidrs []string, header string) (*Extractor, error) {
	if header != HeaderXForwardedFor && header != HeaderForwarded {
		return nil, fmt.Errorf("forwarding header must be %s or %s, got %q", HeaderXForwardedFor, HeaderForwarded, header)
	}
	e := &Extractor{header: header}
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
	hops := e.forwardedFor(r.Header)
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

// PeerTrusted reports whether the socket peer of r is a trusted proxy.
func (e *Extractor) PeerTrusted(r *http.Request) bool {
	peer, ok := parseAddr(r.RemoteAddr)
	return ok && e.isTrusted(peer)
}

func (e *Extractor) isTrusted(a netip.Addr) bool {
	for _, p := range e.trusted {
		if p.Contains(a) {
			return true
		}
	}
	return false
}

// forwardedFor lists the hop addresses, oldest first, from the configured
// header: Forwarded (RFC 7239) or X-Forwarded-For.
func (e *Extractor) forwardedFor(h http.Header) []string {
	var hops []string
	if e.header == HeaderForwarded {
		for _, elem := range strings.Split(strings.Join(h.Values("Forwarded"), ","), ",") {
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

// Key is the unit that limits count per: an IPv4 address, or the /64 of an
// IPv6 address, since one host usually holds a whole /64 and rotates its
// addresses through it.
func Key(ip string) string {
	a, ok := parseAddr(ip)
	if !ok || a.Is4() {
		return ip
	}
	return netip.PrefixFrom(a, 64).Masked().String()
}
