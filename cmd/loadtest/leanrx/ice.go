package leanrx

import (
	"context"
	"crypto/rand"
	"encoding/binary"
	"net"
	"net/netip"
	"strconv"
	"strings"

	"github.com/pion/ice/v4"
	"github.com/pion/stun/v4"
)

// localICE is the receiver's ICE identity, in every answer it sends.
type localICE struct{ ufrag, pwd string }

// iceChars are the characters RFC 8839 allows in ice-ufrag and ice-pwd.
const iceChars = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789+/"

func newLocalICE() localICE {
	return localICE{ufrag: randomString(16), pwd: randomString(32)}
}

func randomString(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	for i := range b {
		b[i] = iceChars[int(b[i])%len(iceChars)]
	}
	return string(b)
}

func randomSSRC() uint32 {
	var b [4]byte
	_, _ = rand.Read(b[:])
	return binary.BigEndian.Uint32(b[:])
}

// LocalIPFor is the address of this machine that reaches host (a name
// or an address) by UDP, for Config.LocalIP: the kernel picks it for a
// connected socket, and no datagram is sent.
func LocalIPFor(host string) (netip.Addr, error) {
	conn, err := net.Dial("udp4", net.JoinHostPort(host, "9"))
	if err != nil {
		return netip.Addr{}, err
	}
	defer conn.Close()
	return conn.LocalAddr().(*net.UDPAddr).AddrPort().Addr().Unmap(), nil
}

// ourPriority is the priority our checks announce: a host candidate's
// (RFC 8445 5.1.2.1, type preference 126, component 1).
const ourPriority = 126<<24 | 65535<<8 | 255

// parseCandidate reads the address of a UDP IPv4 candidate line
// ("candidate:f 1 udp prio ip port typ host ..."); false for any other.
func parseCandidate(line string) (netip.AddrPort, bool) {
	f := strings.Fields(strings.TrimPrefix(strings.TrimPrefix(line, "a="), "candidate:"))
	if len(f) < 8 || !strings.EqualFold(f[2], "udp") || f[6] != "typ" {
		return netip.AddrPort{}, false
	}
	addr, err := netip.ParseAddr(f[4])
	port, perr := strconv.ParseUint(f[5], 10, 16)
	if err != nil || perr != nil || !addr.Is4() {
		return netip.AddrPort{}, false
	}
	return netip.AddrPortFrom(addr, uint16(port)), true
}

// check sends a connectivity check to each of the server's candidates
// until the server nominated a pair. The server's UDP mux learns which
// connection our address belongs to from such a request (its USERNAME),
// and drops anything else from an address it does not know, our answers
// to its own checks included: a receiver must check too, as the
// controlled agent it is.
func (r *Receiver) check() {
	if r.ice.Load() {
		return
	}
	r.mu.Lock()
	targets := append([]netip.AddrPort(nil), r.candidates...)
	r.mu.Unlock()
	r.checkEach(targets...)
}

// checkEach sends a connectivity check to each of targets, unless ICE is
// done.
func (r *Receiver) checkEach(targets ...netip.AddrPort) {
	if r.ice.Load() {
		return
	}
	r.mu.Lock()
	o := r.offer
	r.mu.Unlock()
	if o == nil {
		return
	}
	req, err := stun.Build(
		stun.TransactionID,
		stun.BindingRequest,
		stun.NewUsername(o.ufrag+":"+r.local.ufrag),
		ice.AttrControlled(r.tieBreaker),
		ice.PriorityAttr(ourPriority),
		stun.NewShortTermIntegrity(o.pwd),
		stun.Fingerprint,
	)
	if err != nil {
		return
	}
	for _, to := range targets {
		_, _ = r.conn.WriteToUDPAddrPort(req.Raw, to)
	}
}

// onSTUN answers one of the server's connectivity checks: a binding
// request for our ufrag, signed with our password, gets a signed success
// naming the address it came from. The request that carries
// USE-CANDIDATE nominates that pair: ICE is done, and DTLS starts on it.
// Any other request is answered with a triggered check of the same pair
// (RFC 8445 7.3.1.4): the server, whose own check has just succeeded,
// nominates a pair it is checked on at once, instead of at its next
// round of checks (Pion's are 200 ms apart). Anything else is dropped,
// as an ICE agent drops it.
func (r *Receiver) onSTUN(ctx context.Context, pkt []byte, from netip.AddrPort) {
	if !stun.IsMessage(pkt) {
		return
	}
	m := &stun.Message{Raw: append([]byte(nil), pkt...)}
	if m.Decode() != nil || m.Type != stun.BindingRequest {
		return
	}
	var user stun.Username
	if user.GetFrom(m) != nil || !strings.HasPrefix(user.String(), r.local.ufrag+":") {
		return
	}
	integrity := stun.NewShortTermIntegrity(r.local.pwd)
	if integrity.Check(m) != nil || stun.Fingerprint.Check(m) != nil {
		return
	}
	resp, err := stun.Build(
		stun.NewTransactionIDSetter(m.TransactionID),
		stun.BindingSuccess,
		&stun.XORMappedAddress{IP: from.Addr().AsSlice(), Port: int(from.Port())},
		integrity,
		stun.Fingerprint,
	)
	if err != nil {
		return
	}
	if _, err := r.conn.WriteToUDPAddrPort(resp.Raw, from); err != nil {
		return
	}
	if m.Contains(stun.AttrUseCandidate) {
		r.connected(ctx, from)
	} else {
		r.checkEach(from)
	}
}
