package sfuclient

import (
	"fmt"

	"github.com/pion/webrtc/v4"

	"meet/sfu/codec"
)

// Studio is a WHIP encoder in Go: one send-only connection with a VP8
// camera and, if asked, an Opus microphone, whose offer carries every
// candidate and is answered once, as encoders that speak WHIP (RFC 9725)
// are. The caller writes samples on its tracks.
type Studio struct {
	pc    *webrtc.PeerConnection
	offer string
	// Video is the camera; Audio the microphone, nil without one.
	Video, Audio *webrtc.TrackLocalStaticSample
}

// NewStudio makes a studio's connection and its offer.
func NewStudio(api *webrtc.API, withAudio bool) (*Studio, error) {
	if api == nil {
		var err error
		if api, err = NewAPI(Options{}); err != nil {
			return nil, err
		}
	}
	pc, err := api.NewPeerConnection(webrtc.Configuration{})
	if err != nil {
		return nil, err
	}
	s := &Studio{pc: pc}
	if err := s.addTracks(withAudio); err != nil {
		_ = pc.Close()
		return nil, err
	}
	if s.offer, err = wholeOffer(pc); err != nil {
		_ = pc.Close()
		return nil, fmt.Errorf("sfuclient: studio offer: %w", err)
	}
	return s, nil
}

func (s *Studio) addTracks(withAudio bool) error {
	var err error
	if s.Video, err = webrtc.NewTrackLocalStaticSample(codec.VP8(), "video", "studio"); err != nil {
		return err
	}
	tracks := []webrtc.TrackLocal{s.Video}
	if withAudio {
		if s.Audio, err = webrtc.NewTrackLocalStaticSample(codec.Opus(), "audio", "studio"); err != nil {
			return err
		}
		tracks = append(tracks, s.Audio)
	}
	for _, track := range tracks {
		if _, err := s.pc.AddTransceiverFromTrack(track, webrtc.RTPTransceiverInit{Direction: webrtc.RTPTransceiverDirectionSendonly}); err != nil {
			return err
		}
	}
	return nil
}

// Offer is the SDP offer to send.
func (s *Studio) Offer() string { return s.offer }

// Answer applies the server's answer.
func (s *Studio) Answer(sdp string) error {
	return s.pc.SetRemoteDescription(webrtc.SessionDescription{Type: webrtc.SDPTypeAnswer, SDP: sdp})
}

// Close closes the connection.
func (s *Studio) Close() error { return s.pc.Close() }
