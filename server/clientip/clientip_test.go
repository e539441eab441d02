package clientip

import (
	"net/http"
	"testing"
)

func TestClientIP(t *testing.T) {
	t.Parallel()
	e, err := New([]string{"10.0.0.0/8", "2001:db8::/32"})
	if err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		name, remote string
		header       map[string]string
		want         string
	}{
		{"direct client", "203.0.113.5:4000", nil, "203.0.113.5"},
		{"untrusted peer cannot spoof XFF", "203.0.113.5:4000", map[string]string{"X-Forwarded-For": "1.2.3.4"}, "203.0.113.5"},
		{"untrusted peer cannot spoof Forwarded", "203.0.113.5:4000", map[string]string{"Forwarded": "for=1.2.3.4"}, "203.0.113.5"},
		{"trusted proxy forwards the client", "10.0.0.2:80", map[string]string{"X-Forwarded-For": "198.51.100.7"}, "198.51.100.7"},
		{"spoofed first hop is ignored", "10.0.0.2:80", map[string]string{"X-Forwarded-For": "6.6.6.6, 198.51.100.7"}, "198.51.100.7"},
		{"chain of trusted proxies", "10.0.0.2:80", map[string]string{"X-Forwarded-For": "198.51.100.7, 10.1.1.1, 10.2.2.2"}, "198.51.100.7"},
		{"all hops trusted", "10.0.0.2:80", map[string]string{"X-Forwarded-For": "10.9.9.9"}, "10.9.9.9"},
		{"garbage hop stops the walk", "10.0.0.2:80", map[string]string{"X-Forwarded-For": "198.51.100.7, nonsense"}, "10.0.0.2"},
		{"no header from a proxy", "10.0.0.2:80", nil, "10.0.0.2"},
		{"Forwarded wins over XFF", "10.0.0.2:80", map[string]string{"Forwarded": `for="[2001:db8:cafe::17]:4711", for=198.51.100.9;proto=https`, "X-Forwarded-For": "6.6.6.6"}, "198.51.100.9"},
		{"Forwarded IPv6 client", "[2001:db8::1]:443", map[string]string{"Forwarded": `for="[2001:db9::17]:4711"`}, "2001:db9::17"},
		{"IPv4-mapped peer", "[::ffff:203.0.113.5]:4000", nil, "203.0.113.5"},
	}
	for _, tc := range cases {
		r := &http.Request{RemoteAddr: tc.remote, Header: http.Header{}}
		for k, v := range tc.header {
			r.Header.Set(k, v)
		}
		if got := e.ClientIP(r); got != tc.want {
			t.Errorf("%s: %s, want %s", tc.name, got, tc.want)
		}
	}
}

func TestNew_RejectsBadCIDRs(t *testing.T) {
	t.Parallel()
	if _, err := New([]string{"10.0.0.0/33"}); err == nil {
		t.Error("bad CIDR accepted")
	}
}
