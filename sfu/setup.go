package sfu

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"fmt"
	"sync"
	"time"

	"github.com/pion/webrtc/v4"
)

// certificateLifetime is how long the SFU uses one DTLS certificate for
// new connections. Pion's certificates expire after a month and Pion
// refuses to create a connection with an expired one.
const certificateLifetime = 7 * 24 * time.Hour

// connSetup is what every new subscribe connection shares: one DTLS
// certificate (made once, not once per connection: browsers check only the
// fingerprint in the SDP, which names it), and a bound on how many
// connections are set up at once. A crowd joining together is then served
// first come, first served, at the speed of the cores, instead of every
// joiner's setup crawling along together and all of them finishing late.
//
// A slot is held from the connection's creation through its first offer
// and on until it connects, or for setupHold at most. On a fast network
// the handshake (ICE and DTLS, a few milliseconds of CPU on each side)
// then runs in the joiner's slot, ahead of the crowd behind it, instead of
// 300 handshakes sharing the cores and all finishing late. On a slow one
// the handshake waits for round trips, not for the CPU, and the slot goes
// back after setupHold: the gate still lets setupSlotsPerCore/setupHold
// joins a second through per core (about 100, against the 200-250 a core
// can set up; docs/BENCHMARKS.md, "The join storm"). With 32 per core the
// handshakes shared the cores again, and joins were no faster than when
// the slot went back at the offer.
type connSetup struct {
	slots chan struct{}
	hold  time.Duration

	mu      sync.Mutex
	cert    *webrtc.Certificate
	created time.Time
}

// setupSlotsPerCore and setupHold bound the subscribe connections set up
// at once, and how long one keeps its slot waiting to connect.
const (
	setupSlotsPerCore = 16
	setupHold         = 150 * time.Millisecond
)

func newConnSetup(slots int, hold time.Duration) *connSetup {
	return &connSetup{slots: make(chan struct{}, slots), hold: hold}
}

// acquire waits for a setup slot; release gives it back.
func (c *connSetup) acquire() { c.slots <- struct{}{} }
func (c *connSetup) release() { <-c.slots }

// configuration is the Pion configuration of a new connection, with the
// shared certificate, renewed once it is certificateLifetime old.
func (c *connSetup) configuration() (webrtc.Configuration, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.cert == nil || time.Since(c.created) > certificateLifetime {
		key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
		if err != nil {
			return webrtc.Configuration{}, fmt.Errorf("sfu: DTLS key: %w", err)
		}
		cert, err := webrtc.GenerateCertificate(key)
		if err != nil {
			return webrtc.Configuration{}, fmt.Errorf("sfu: DTLS certificate: %w", err)
		}
		c.cert, c.created = cert, time.Now()
	}
	return webrtc.Configuration{Certificates: []webrtc.Certificate{*c.cert}}, nil
}
