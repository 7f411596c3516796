package sfuclient

import (
	"github.com/pion/dtls/v3"
	"github.com/pion/ice/v4"
	"github.com/pion/interceptor"
	"github.com/pion/webrtc/v4"

	"meet/sfu/codec"
)

// Options shape the Pion API that clients make their connections with.
type Options struct {
	// LoopbackOnly gathers candidates on the loopback interface alone, so
	// that a test's media never leaves the machine.
	LoopbackOnly bool
	// NoReplayProtection accepts an SRTP packet already received: a test
	// that NACKs a packet it did get receives that packet again.
	NoReplayProtection bool
	// TWCCFeedback answers what arrives with transport-wide congestion
	// control feedback, as the SFU does towards its publishers.
	TWCCFeedback bool
	// TCPOnly connects over ICE-TCP alone (active candidates, which dial
	// the SFU's passive ones), as a client whose network drops UDP.
	TCPOnly bool
	// Simulcast negotiates the MID and RID header extensions on video, as
	// a browser does, which a client that publishes simulcast layers
	// (PublishSimulcast) needs: the SFU tells the layers apart by them.
	Simulcast bool
}

// NewAPI builds a client's Pion API: the app's codecs (sfu/codec), NACKs
// and RTCP reports as a browser sends them, host candidates (loopback
// included) over UDP4 (or TCP4: Options.TCPOnly) without mDNS, and AES-GCM
// first among the SRTP profiles, as the SFU prefers. One API serves any
// number of clients: the load tool shares one among all of its
// participants.
func NewAPI(o Options) (*webrtc.API, error) {
	media := &webrtc.MediaEngine{}
	if err := codec.Register(media); err != nil {
		return nil, err
	}
	registry := &interceptor.Registry{}
	if err := webrtc.ConfigureNack(media, registry); err != nil {
		return nil, err
	}
	if err := webrtc.ConfigureRTCPReports(registry); err != nil {
		return nil, err
	}
	if o.Simulcast {
		if err := webrtc.ConfigureSimulcastExtensionHeaders(media); err != nil {
			return nil, err
		}
	}
	if o.TWCCFeedback {
		if err := webrtc.ConfigureTWCCSender(media, registry); err != nil {
			return nil, err
		}
	}
	var settings webrtc.SettingEngine
	settings.SetIncludeLoopbackCandidate(true)
	if o.TCPOnly {
		settings.SetNetworkTypes([]webrtc.NetworkType{webrtc.NetworkTypeTCP4})
	} else {
		settings.SetNetworkTypes([]webrtc.NetworkType{webrtc.NetworkTypeUDP4})
	}
	settings.SetICEMulticastDNSMode(ice.MulticastDNSModeDisabled)
	settings.SetSRTPProtectionProfiles(dtls.SRTP_AEAD_AES_128_GCM, dtls.SRTP_AEAD_AES_256_GCM, dtls.SRTP_AES128_CM_HMAC_SHA1_80)
	if o.LoopbackOnly {
		settings.SetInterfaceFilter(func(name string) bool { return name == "lo" })
	}
	if o.NoReplayProtection {
		settings.DisableSRTPReplayProtection(true)
	}
	return webrtc.NewAPI(webrtc.WithMediaEngine(media), webrtc.WithInterceptorRegistry(registry), webrtc.WithSettingEngine(settings)), nil
}
