package sfu

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"fmt"
	"runtime"
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
type connSetup struct {
	slots chan struct{}

	mu      sync.Mutex
	cert    *webrtc.Certificate
	created time.Time
}

func newConnSetup() *connSetup {
	return &connSetup{slots: make(chan struct{}, runtime.GOMAXPROCS(0))}
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
