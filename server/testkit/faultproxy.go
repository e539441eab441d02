package testkit

import (
	"bytes"
	"net"
	"sync"
	"sync/atomic"
	"time"
)

// FaultProxy forwards TCP connections to a target (PostgreSQL in tests) and
// injects the faults a network can: latency, resets, an outage and an answer
// lost after the target acted.
type FaultProxy struct {
	ln     net.Listener
	target string

	mu    sync.Mutex
	delay time.Duration
	down  bool
	cut   []byte // see CutAnswerTo
	conns map[*net.TCPConn]struct{}
}

// NewFaultProxy listens on a free loopback port; cleanup closes everything.
func NewFaultProxy(t T, target string) *FaultProxy {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p := &FaultProxy{ln: ln, target: target, conns: map[*net.TCPConn]struct{}{}}
	go p.accept()
	t.Cleanup(func() {
		_ = ln.Close()
		p.ResetAll()
	})
	return p
}

// Addr is host:port to connect to instead of the target.
func (p *FaultProxy) Addr() string { return p.ln.Addr().String() }

// SetDelay holds every chunk sent towards the target for d.
func (p *FaultProxy) SetDelay(d time.Duration) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.delay = d
}

// SetDown makes the target unreachable: open connections are reset and new
// ones are reset on arrival, until SetDown(false).
func (p *FaultProxy) SetDown(down bool) {
	p.mu.Lock()
	p.down = down
	p.mu.Unlock()
	if down {
		p.ResetAll()
	}
}

// CutAnswerTo arms a one-time fault: the next chunk towards the target that
// contains marker is forwarded, and the target's answer to it is dropped and
// the connection reset, so the client never learns what the target did.
func (p *FaultProxy) CutAnswerTo(marker []byte) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.cut = bytes.Clone(marker)
}

// ResetAll aborts every open connection with a TCP reset, mid-transaction if
// one is running.
func (p *FaultProxy) ResetAll() {
	p.mu.Lock()
	defer p.mu.Unlock()
	for c := range p.conns {
		reset(c)
		delete(p.conns, c)
	}
}

func reset(c *net.TCPConn) {
	_ = c.SetLinger(0) // close with RST instead of FIN
	_ = c.Close()
}

func (p *FaultProxy) accept() {
	for {
		c, err := p.ln.Accept()
		if err != nil {
			return
		}
		go p.serve(c.(*net.TCPConn))
	}
}

func (p *FaultProxy) serve(client *net.TCPConn) {
	p.mu.Lock()
	down := p.down
	p.mu.Unlock()
	if down {
		reset(client)
		return
	}
	c, err := net.Dial("tcp", p.target)
	if err != nil {
		reset(client)
		return
	}
	server := c.(*net.TCPConn)
	if !p.track(client, server) {
		return
	}
	cut := new(atomic.Bool) // this connection's answers are to be dropped
	go p.pipe(server, client, true, cut)
	p.pipe(client, server, false, cut)
}

// track registers both ends unless an outage began while dialling.
func (p *FaultProxy) track(ends ...*net.TCPConn) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.down {
		for _, c := range ends {
			reset(c)
		}
		return false
	}
	for _, c := range ends {
		p.conns[c] = struct{}{}
	}
	return true
}

// pipe copies from src to dst, delaying chunks towards the target and
// cutting answers as CutAnswerTo asks; either side failing resets both.
func (p *FaultProxy) pipe(dst, src *net.TCPConn, towardsTarget bool, cut *atomic.Bool) {
	buf := make([]byte, 32<<10)
	defer func() {
		p.mu.Lock()
		delete(p.conns, dst)
		delete(p.conns, src)
		p.mu.Unlock()
		reset(dst)
		reset(src)
	}()
	for {
		n, err := src.Read(buf)
		if n > 0 && !towardsTarget && cut.Load() {
			return // the answer is lost; the deferred resets end both sides
		}
		if n > 0 {
			if towardsTarget {
				p.mu.Lock()
				d := p.delay
				if p.cut != nil && bytes.Contains(buf[:n], p.cut) {
					p.cut = nil
					cut.Store(true) // before forwarding, so no answer slips through
				}
				p.mu.Unlock()
				time.Sleep(d) // the injected latency itself
			}
			if _, werr := dst.Write(buf[:n]); werr != nil {
				return
			}
		}
		if err != nil {
			return
		}
	}
}
