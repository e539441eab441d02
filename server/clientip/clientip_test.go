package clientip

import (
	"net/http"
	"testing"
)

func TestClientIP(t *testing.T) {
	t.Parallel()
	xff, err := New([]string{"10.0.0.0/8", "2001:db8::/32"}, HeaderXForwardedFor)
	if err != nil {
		t.Fatal(err)
	}
	fwd, _ := New([]string{"10.0.0.0/8", "2001:db8::/32"}, HeaderForwarded)
	cases := []struct {
		name, remote string
		header       map[string]string
		want         string
		e            *Extractor
	}{
		{"direct client", "203.0.113.5:4000", nil, "203.0.113.5", nil},
		{"untrusted peer cannot spoof XFF", "203.0.113.5:4000", map[string]string{"X-Forwarded-For": "1.2.3.4"}, "203.0.113.5", nil},
		{"untrusted peer cannot spoof Forwarded", "203.0.113.5:4000", map[string]string{"Forwarded": "for=1.2.3.4"}, "203.0.113.5", nil},
		{"trusted proxy forwards the client", "10.0.0.2:80", map[string]string{"X-Forwarded-For": "198.51.100.7"}, "198.51.100.7", nil},
		{"spoofed first hop is ignored", "10.0.0.2:80", map[string]string{"X-Forwarded-For": "6.6.6.6, 198.51.100.7"}, "198.51.100.7", nil},
		{"chain of trusted proxies", "10.0.0.2:80", map[string]string{"X-Forwarded-For": "198.51.100.7, 10.1.1.1, 10.2.2.2"}, "198.51.100.7", nil},
		{"all hops trusted", "10.0.0.2:80", map[string]string{"X-Forwarded-For": "10.9.9.9"}, "10.9.9.9", nil},
		{"garbage hop stops the walk", "10.0.0.2:80", map[string]string{"X-Forwarded-For": "198.51.100.7, nonsense"}, "10.0.0.2", nil},
		{"no header from a proxy", "10.0.0.2:80", nil, "10.0.0.2", nil},
		{"XFF proxy ignores a client's Forwarded", "10.0.0.2:80", map[string]string{"X-Forwarded-For": "198.51.100.5", "Forwarded": "for=203.0.113.1"}, "198.51.100.5", nil},
		{"Forwarded proxy", "10.0.0.2:80", map[string]string{"Forwarded": `for="[2001:db8:cafe::17]:4711", for=198.51.100.9;proto=https`, "X-Forwarded-For": "6.6.6.6"}, "198.51.100.9", fwd},
		{"Forwarded proxy ignores a client's XFF", "10.0.0.2:80", map[string]string{"X-Forwarded-For": "6.6.6.6"}, "10.0.0.2", fwd},
		{"Forwarded IPv6 client", "[2001:db8::1]:443", map[string]string{"Forwarded": `for="[2001:db9::17]:4711"`}, "2001:db9::17", fwd},
		{"IPv4-mapped peer", "[::ffff:203.0.113.5]:4000", nil, "203.0.113.5", nil},
	}
	for _, tc := range cases {
		r := &http.Request{RemoteAddr: tc.remote, Header: http.Header{}}
		for k, v := range tc.header {
			r.Header.Set(k, v)
		}
		e := tc.e
		if e == nil {
			e = xff
		}
		if got := e.ClientIP(r); got != tc.want {
			t.Errorf("%s: %s, want %s", tc.name, got, tc.want)
		}
	}
}

func TestNew_RejectsBadCIDRs(t *testing.T) {
	t.Parallel()
	if _, err := New([]string{"10.0.0.0/33"}, HeaderXForwardedFor); err == nil {
		t.Error("bad CIDR accepted")
	}
	if _, err := New(nil, "X-Real-IP"); err == nil {
		t.Error("unknown header accepted")
	}
}

func TestKey_IPv6CountsPerSlash64(t *testing.T) {
	t.Parallel()
	if Key("2001:db8:1:2:aaaa::1") != Key("2001:db8:1:2:bbbb::9") {
		t.Error("two addresses of one /64 have different keys")
	}
	if Key("2001:db8:1:2::1") == Key("2001:db8:1:3::1") {
		t.Error("two /64s share a key")
	}
	if Key("198.51.100.7") != "198.51.100.7" {
		t.Error("IPv4 keys changed")
	}
}

func TestPeerTrusted_OnlyTheSocketPeerCounts(t *testing.T) {
	t.Parallel()
	e, err := New([]string{"10.0.0.0/8"}, HeaderXForwardedFor)
	if err != nil {
		t.Fatal(err)
	}
	for remote, want := range map[string]bool{"10.1.2.3:443": true, "[::ffff:10.1.2.3]:443": true, "192.0.2.1:443": false, "garbage": false} {
		r := &http.Request{RemoteAddr: remote, Header: http.Header{"X-Forwarded-For": {"10.9.9.9"}}}
		if got := e.PeerTrusted(r); got != want {
			t.Errorf("%s: trusted %v, want %v", remote, got, want)
		}
	}
}
