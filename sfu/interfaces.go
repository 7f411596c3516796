package sfu

import (
	"sync"
	"time"

	"github.com/pion/transport/v5"
	"github.com/pion/transport/v5/stdnet"
	"github.com/pion/webrtc/v4"
)

// interfacesMaxAge is how long one reading of the host's network
// interfaces serves the connections made after it.
const interfacesMaxAge = 5 * time.Second

// interfaceSnapshot shares one reading of the host's network interfaces
// among the connections made within interfacesMaxAge of it. Left to
// itself, Pion reads them for every connection's ICE agent (a netlink dump
// of each interface and address): a thirtieth of the server's CPU while a
// class of 300 joins at once. A server's addresses seldom change, and the
// connections made after the next reading see a change. A reading is never
// changed once made, so agents may keep theirs.
type interfaceSnapshot struct {
	mu   sync.Mutex
	net  *stdnet.Net
	read time.Time
}

// current returns a reading no older than interfacesMaxAge, or nil if the
// interfaces cannot be read (Pion then tries for itself, and says why).
func (n *interfaceSnapshot) current() transport.Net {
	n.mu.Lock()
	defer n.mu.Unlock()
	now := time.Now()
	if n.net == nil || now.Sub(n.read) > interfacesMaxAge {
		fresh, err := stdnet.NewNet()
		if err != nil {
			return nil
		}
		n.net, n.read = fresh, now
	}
	return n.net
}

// connectionSettings is the SFU's setting engine for one new connection,
// with the current reading of the host's interfaces.
func (s *SFU) connectionSettings() webrtc.SettingEngine {
	settings := s.settings
	if n := s.interfaces.current(); n != nil {
		settings.SetNet(n)
	}
	return settings
}
