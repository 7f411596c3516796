// Package leanrx is the load tool's receive-only subscriber: the subscribe
// side of the SFU protocol (answer the server's offers, receive its
// tracks), without a Pion PeerConnection.
//
// A Pion connection passes each packet through four goroutines (the ICE
// reader, the mux, the SRTP session, the track's reader) and two
// interceptors, and costs the tool about as much CPU per packet as the
// SFU spends forwarding it. Hundreds of such viewers on the server's own
// machine then measure the tool as much as the server. A Receiver does
// the same job with one goroutine and one socket: it reads a datagram,
// answers it if it is an ICE check, hands it to DTLS during the
// handshake, and otherwise decrypts it in place and passes the payload on.
//
// It is a real WebRTC endpoint, speaking to the unmodified server:
//
//	ICE   the controlled agent: it checks the server's UDP candidates
//	      from its one host candidate, answers the server's checks,
//	      signed with its password, and the server, the controlling
//	      agent, nominates the pair.
//	DTLS  pion/dtls as the client (a=setup:active), the server's
//	      certificate checked against the offer's fingerprint.
//	SRTP  pion/srtp contexts keyed from DTLS, as Pion's own transport
//	      does, with the same replay window.
//	RTCP  receiver reports every second and NACKs for what went missing,
//	      as a browser sends them (rtcp.go).
//
// It sends no transport-wide congestion feedback, like the tool's plain
// Pion clients (sfuclient without TWCCFeedback).
package leanrx

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/pion/rtp"
	"github.com/pion/srtp/v3"

	"meet/protocol"
)

// Config is what a receiver is made of. Send and Certificate are
// required.
type Config struct {
	// Send delivers one message to the server (the subscribe answer).
	Send func(protocol.SFU) error
	// Certificate is the DTLS identity; receivers may share one.
	Certificate *Certificate
	// OnPacket sees the payload of every RTP packet received, with the
	// name the server's offer gave its track ("publisherId|source").
	// It runs on the receiver's goroutine; payload is valid only during
	// the call.
	OnPacket func(key string, video bool, payload []byte)
	// OnICEConnected and OnConnected are called once, when the server
	// nominated a candidate pair, and when DTLS is done.
	OnICEConnected, OnConnected func()
	// OnError receives failures no caller waits for: a DTLS handshake
	// that failed.
	OnError func(error)
	// LocalIP is the address the receiver's one host candidate is on:
	// one the server can reach. Unset, it is 127.0.0.1.
	LocalIP netip.Addr
}

// ErrClosed is returned by Handle once the receiver was closed.
var ErrClosed = errors.New("leanrx: receiver closed")

// handshakeTimeout bounds the DTLS handshake, as Pion's transport does
// through ICE's disconnection.
const handshakeTimeout = 30 * time.Second

// maxDatagram is more than the SFU ever sends in one datagram.
const maxDatagram = 1500

// Receiver is one viewer's subscribe connection.
type Receiver struct {
	cfg   Config
	conn  *net.UDPConn
	local localICE
	ssrc  uint32 // ours, as the sender of RTCP

	tieBreaker uint64 // of our checks (ICE-CONTROLLED)

	ice atomic.Bool // a pair was nominated

	// decrypt is the server's SRTP context: set once DTLS is done, used
	// on the reader's goroutine alone; early is the media that came before
	// (the reader's too).
	decrypt atomic.Pointer[srtp.Context]
	early   [][]byte

	mu         sync.Mutex
	offer      *offer                 // the latest
	remote     netip.AddrPort         // the server's side of the nominated pair
	candidates []netip.AddrPort       // the server's, to check
	tracks     map[uint32]*trackStats // by SSRC, from the offers
	dtls       *dtlsPipe              // nil until ICE is done
	encrypt    *srtp.Context          // ours, for RTCP; nil until DTLS is done
	closed     bool
	cancel     context.CancelFunc
}

// New opens a receiver's socket on Config.LocalIP and starts reading it.
// The server's first subscribe offer goes to Handle.
func New(cfg Config) (*Receiver, error) {
	if cfg.Send == nil || cfg.Certificate == nil {
		return nil, errors.New("leanrx: Config.Send and Config.Certificate are required")
	}
	if !cfg.LocalIP.IsValid() {
		cfg.LocalIP = netip.AddrFrom4([4]byte{127, 0, 0, 1})
	}
	conn, err := net.ListenUDP("udp4", net.UDPAddrFromAddrPort(netip.AddrPortFrom(cfg.LocalIP, 0)))
	if err != nil {
		return nil, fmt.Errorf("leanrx: socket: %w", err)
	}
	r := &Receiver{cfg: cfg, conn: conn, local: newLocalICE(), ssrc: randomSSRC(), tieBreaker: uint64(randomSSRC())<<32 | uint64(randomSSRC()), tracks: map[uint32]*trackStats{}}
	ctx, cancel := context.WithCancel(context.Background())
	r.cancel = cancel
	go r.read(ctx)
	reporter.add(r)
	return r, nil
}

// Handle applies one message from the server: it answers a subscribe
// offer, and checks each candidate of the server's as it comes.
func (r *Receiver) Handle(m protocol.SFU) error {
	if m.PC != protocol.PCSubscribe {
		return fmt.Errorf("leanrx: unexpected %s on %s", m.Kind, m.PC)
	}
	switch m.Kind {
	case protocol.KindCandidate:
		if m.Candidate != nil {
			r.addCandidate(m.Candidate.Candidate)
		}
		return nil
	case protocol.KindOffer:
	default:
		return fmt.Errorf("leanrx: unexpected %s", m.Kind)
	}
	o, err := parseOffer(m.SDP, m.Tracks)
	if err != nil {
		return err
	}
	r.mu.Lock()
	if r.closed {
		r.mu.Unlock()
		return ErrClosed
	}
	if r.offer != nil && (o.ufrag != r.offer.ufrag || o.fingerprint != r.offer.fingerprint) {
		r.mu.Unlock()
		return errors.New("leanrx: the server restarted ICE or DTLS, which a receiver does not follow")
	}
	r.offer = o
	for _, c := range o.candidates {
		if !slices.Contains(r.candidates, c) {
			r.candidates = append(r.candidates, c)
		}
	}
	for ssrc, t := range o.ssrcs {
		if r.tracks[ssrc] == nil {
			r.tracks[ssrc] = newTrackStats(ssrc, t)
		}
	}
	r.mu.Unlock()
	answer := o.answer(r.local, r.cfg.Certificate.fingerprint, r.conn.LocalAddr().(*net.UDPAddr).AddrPort())
	if err := r.cfg.Send(protocol.SFU{Type: protocol.TypeSFU, Kind: protocol.KindAnswer, PC: protocol.PCSubscribe, SDP: answer}); err != nil {
		return err
	}
	r.check()
	return nil
}

// addCandidate notes one of the server's trickled candidates and checks
// it at once; the reporter's ticks repeat the checks until ICE is done.
func (r *Receiver) addCandidate(line string) {
	c, ok := parseCandidate(line)
	if !ok {
		return
	}
	r.mu.Lock()
	known := slices.Contains(r.candidates, c)
	if !known {
		r.candidates = append(r.candidates, c)
	}
	r.mu.Unlock()
	if !known {
		r.check()
	}
}

// Close ends the connection: DTLS says goodbye to the server, and the
// socket closes.
func (r *Receiver) Close() {
	r.mu.Lock()
	if r.closed {
		r.mu.Unlock()
		return
	}
	r.closed = true
	r.mu.Unlock()
	reporter.remove(r)
	r.cancel()
	if p := r.pipe(); p != nil {
		p.closeDTLS()
	}
	_ = r.conn.Close()
}

// Remote is the server's side of the nominated candidate pair; zero
// until ICE is done.
func (r *Receiver) Remote() netip.AddrPort {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.remote
}

func (r *Receiver) pipe() *dtlsPipe {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.dtls
}

// read is the receiver's one goroutine: every datagram the server sends
// is handled here, in arrival order.
func (r *Receiver) read(ctx context.Context) {
	buf := make([]byte, maxDatagram)
	plain := make([]byte, maxDatagram)
	var header rtp.Header
	for {
		n, from, err := r.conn.ReadFromUDPAddrPort(buf)
		if err != nil {
			return
		}
		pkt := buf[:n]
		switch {
		case n < 2:
		case pkt[0] >= 128 && pkt[0] <= 191 && pkt[1] >= 192 && pkt[1] <= 223:
			r.onRTCP(pkt, plain)
		case pkt[0] >= 128 && pkt[0] <= 191:
			r.onRTP(pkt, plain, &header)
		case pkt[0] >= 20 && pkt[0] <= 63:
			if p := r.pipe(); p != nil {
				p.deliver(pkt)
			}
		case pkt[0] < 2:
			r.onSTUN(ctx, pkt, from)
		}
	}
}

// earlyPackets bounds the media kept while DTLS finishes: a few
// keyframes' worth.
const earlyPackets = 256

// onRTP decrypts one media packet and passes its payload on. Media that
// comes before our side of DTLS is done is kept for then: the server
// starts sending as soon as its side is, a moment before ours (it sends
// the last flight), and that first burst is the keyframe a new viewer
// starts from.
func (r *Receiver) onRTP(pkt, plain []byte, header *rtp.Header) {
	ctx := r.decrypt.Load()
	if ctx == nil {
		if len(r.early) < earlyPackets {
			r.early = append(r.early, append([]byte(nil), pkt...))
		}
		return
	}
	if r.early != nil {
		early := r.early
		r.early = nil
		for _, e := range early {
			r.onRTP(e, plain, header)
		}
	}
	out, err := ctx.DecryptRTP(plain[:0], pkt, header)
	if err != nil {
		return // a replay, or not for us
	}
	r.mu.Lock()
	t := r.tracks[header.SSRC]
	if t != nil {
		t.received(header.SequenceNumber, header.Timestamp, time.Now())
	}
	r.mu.Unlock()
	if t == nil || r.cfg.OnPacket == nil {
		return
	}
	payload := out[header.MarshalSize():]
	if header.Padding && len(payload) > 0 {
		pad := int(payload[len(payload)-1])
		if pad > len(payload) {
			return
		}
		payload = payload[:len(payload)-pad]
	}
	r.cfg.OnPacket(t.key, t.video, payload)
}

// connected starts DTLS once the server nominated the pair from.
func (r *Receiver) connected(ctx context.Context, from netip.AddrPort) {
	if !r.ice.CompareAndSwap(false, true) {
		return
	}
	r.mu.Lock()
	r.remote = from
	o := r.offer
	p := newDTLSPipe(r.conn, from)
	r.dtls = p
	r.mu.Unlock()
	if r.cfg.OnICEConnected != nil {
		r.cfg.OnICEConnected()
	}
	go r.handshake(ctx, p, o.fingerprint)
}

// handshake runs DTLS as the client and keys SRTP from it.
func (r *Receiver) handshake(ctx context.Context, p *dtlsPipe, fingerprint string) {
	ctx, cancel := context.WithTimeout(ctx, handshakeTimeout)
	defer cancel()
	decrypt, encrypt, err := p.handshake(ctx, r.cfg.Certificate, fingerprint)
	if err != nil {
		if !r.isClosed() {
			r.report(fmt.Errorf("leanrx: DTLS: %w", err))
		}
		return
	}
	r.mu.Lock()
	r.encrypt = encrypt
	r.mu.Unlock()
	r.decrypt.Store(decrypt)
	if r.cfg.OnConnected != nil {
		r.cfg.OnConnected()
	}
}

func (r *Receiver) isClosed() bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.closed
}

func (r *Receiver) report(err error) {
	if r.cfg.OnError != nil {
		r.cfg.OnError(err)
	}
}

// send writes one datagram to the server's side of the pair.
func (r *Receiver) send(b []byte) {
	r.mu.Lock()
	to := r.remote
	r.mu.Unlock()
	if to.IsValid() {
		_, _ = r.conn.WriteToUDPAddrPort(b, to)
	}
}
