package leanrx

import (
	"context"
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"strings"
	"sync"
	"time"

	"github.com/pion/dtls/v3"
	"github.com/pion/dtls/v3/pkg/crypto/selfsign"
	"github.com/pion/srtp/v3"
)

// Certificate is a receiver's DTLS identity and the fingerprint its
// answers announce. Making one costs a key generation: a run makes one
// and its receivers share it, as a browser shares one among its
// connections.
type Certificate struct {
	tls         tls.Certificate
	fingerprint string
}

// NewCertificate makes a self-signed ECDSA certificate.
func NewCertificate() (*Certificate, error) {
	cert, err := selfsign.GenerateSelfSigned()
	if err != nil {
		return nil, fmt.Errorf("leanrx: certificate: %w", err)
	}
	return &Certificate{tls: cert, fingerprint: fingerprintOf(cert.Certificate[0])}, nil
}

// fingerprintOf is the SDP form of a certificate's SHA-256 fingerprint.
func fingerprintOf(der []byte) string {
	sum := sha256.Sum256(der)
	parts := make([]string, len(sum))
	for i, b := range sum {
		parts[i] = fmt.Sprintf("%02X", b)
	}
	return strings.Join(parts, ":")
}

// srtpProfiles maps the DTLS-SRTP profiles the receiver offers (in the
// order of offeredProfiles) to pion/srtp's.
var srtpProfiles = map[dtls.SRTPProtectionProfile]srtp.ProtectionProfile{
	dtls.SRTP_AEAD_AES_128_GCM:       srtp.ProtectionProfileAeadAes128Gcm,
	dtls.SRTP_AEAD_AES_256_GCM:       srtp.ProtectionProfileAeadAes256Gcm,
	dtls.SRTP_AES128_CM_HMAC_SHA1_80: srtp.ProtectionProfileAes128CmHmacSha1_80,
}

// offeredProfiles are the DTLS-SRTP profiles the receiver offers, GCM
// first, as the SFU prefers.
var offeredProfiles = []dtls.SRTPProtectionProfile{dtls.SRTP_AEAD_AES_128_GCM, dtls.SRTP_AEAD_AES_256_GCM, dtls.SRTP_AES128_CM_HMAC_SHA1_80}

// replayWindow is the SRTP replay window Pion's sessions use.
const replayWindow = 64

// dtlsPipe is the net.PacketConn DTLS runs over: the receiver's reader
// delivers DTLS records into it, and what DTLS writes goes to the server
// over the receiver's socket.
type dtlsPipe struct {
	conn   *net.UDPConn
	remote netip.AddrPort
	in     chan []byte
	done   chan struct{}
	once   sync.Once

	mu       sync.Mutex
	deadline time.Time
	dtls     *dtls.Conn
}

func newDTLSPipe(conn *net.UDPConn, remote netip.AddrPort) *dtlsPipe {
	return &dtlsPipe{conn: conn, remote: remote, in: make(chan []byte, 64), done: make(chan struct{})}
}

// deliver queues a copy of one DTLS datagram; a full queue drops it, as
// a full socket buffer would, and DTLS retransmits.
func (p *dtlsPipe) deliver(b []byte) {
	select {
	case p.in <- append([]byte(nil), b...):
	default:
	}
}

// handshake runs DTLS as the client, checks the server's certificate
// against the offer's fingerprint, and returns the SRTP contexts keyed
// from it: the server's, to decrypt, and ours, to encrypt RTCP.
func (p *dtlsPipe) handshake(ctx context.Context, cert *Certificate, fingerprint string) (decrypt, encrypt *srtp.Context, err error) {
	conn, err := dtls.Client(p, net.UDPAddrFromAddrPort(p.remote), &dtls.Config{
		Certificates:           []tls.Certificate{cert.tls},
		SRTPProtectionProfiles: offeredProfiles,
		ExtendedMasterSecret:   dtls.RequireExtendedMasterSecret,
		FlightInterval:         200 * time.Millisecond,
		InsecureSkipVerify:     true, // self-signed: the fingerprint is the check
		VerifyPeerCertificate: func(raw [][]byte, _ [][]*x509.Certificate) error {
			if len(raw) == 0 || fingerprintOf(raw[0]) != fingerprint {
				return errors.New("the server's certificate does not match the offer's fingerprint")
			}
			return nil
		},
	})
	if err != nil {
		return nil, nil, err
	}
	p.mu.Lock()
	p.dtls = conn
	p.mu.Unlock()
	if err := conn.HandshakeContext(ctx); err != nil {
		_ = conn.Close()
		return nil, nil, err
	}
	selected, ok := conn.SelectedSRTPProtectionProfile()
	profile, known := srtpProfiles[selected]
	state, stateOK := conn.ConnectionState()
	if !ok || !known || !stateOK {
		return nil, nil, errors.New("no SRTP profile was agreed")
	}
	config := srtp.Config{Profile: profile}
	if err := config.ExtractSessionKeysFromDTLS(&state, true); err != nil {
		return nil, nil, err
	}
	keys := config.Keys
	decrypt, err = srtp.CreateContext(keys.RemoteMasterKey, keys.RemoteMasterSalt, profile, srtp.SRTPReplayProtection(replayWindow))
	if err != nil {
		return nil, nil, err
	}
	encrypt, err = srtp.CreateContext(keys.LocalMasterKey, keys.LocalMasterSalt, profile)
	return decrypt, encrypt, err
}

// closeDTLS sends the server DTLS's close_notify, so that it tears the
// connection down at once, and ends the pipe.
func (p *dtlsPipe) closeDTLS() {
	p.mu.Lock()
	conn := p.dtls
	p.mu.Unlock()
	if conn != nil {
		_ = conn.Close()
	}
	_ = p.Close()
}

// ReadFrom returns the next DTLS datagram the reader delivered.
func (p *dtlsPipe) ReadFrom(b []byte) (int, net.Addr, error) {
	p.mu.Lock()
	deadline := p.deadline
	p.mu.Unlock()
	var timeout <-chan time.Time
	if !deadline.IsZero() {
		t := time.NewTimer(time.Until(deadline))
		defer t.Stop()
		timeout = t.C
	}
	select {
	case d := <-p.in:
		return copy(b, d), net.UDPAddrFromAddrPort(p.remote), nil
	case <-p.done:
		return 0, nil, net.ErrClosed
	case <-timeout:
		return 0, nil, timeoutError{}
	}
}

// WriteTo sends to the server, whatever address DTLS names.
func (p *dtlsPipe) WriteTo(b []byte, _ net.Addr) (int, error) {
	select {
	case <-p.done:
		return 0, net.ErrClosed
	default:
	}
	return p.conn.WriteToUDPAddrPort(b, p.remote)
}

func (p *dtlsPipe) Close() error {
	p.once.Do(func() { close(p.done) })
	return nil
}

func (p *dtlsPipe) LocalAddr() net.Addr { return p.conn.LocalAddr() }

func (p *dtlsPipe) SetDeadline(t time.Time) error { return p.SetReadDeadline(t) }

func (p *dtlsPipe) SetReadDeadline(t time.Time) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.deadline = t
	return nil
}

func (p *dtlsPipe) SetWriteDeadline(time.Time) error { return nil }

// timeoutError is the net.Error of a read past its deadline.
type timeoutError struct{}

func (timeoutError) Error() string   { return "leanrx: read deadline passed" }
func (timeoutError) Timeout() bool   { return true }
func (timeoutError) Temporary() bool { return true }
