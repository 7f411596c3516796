package main

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"path"
	"strings"
	"time"

	"github.com/pion/rtp"
	"github.com/pion/webrtc/v4"

	"meet/protocol"
)

// With -whep, a classroom's viewers watch as WHEP players (issue 17)
// instead of as spectators: each offers one receive-only connection (a
// video and a sound) to POST /api/rooms/:id/whep with the owner's token,
// applies the answer (every candidate in it, no trickle), and ends with a
// DELETE of the session's Location. The server shows the session its
// stage: the presenter.
//
// sfuclient.Player counts what arrives but hands no packet out, so the
// tool has its own small player here. Its packets go through the
// participant's onPacket, under the names of the presenter's camera and
// microphone, into the same stats as a subscriber's: loss, latency, the
// first keyframe, deliveries.

// whepSession is a player's connection and its session on the server.
type whepSession struct {
	srv      *server
	pc       *webrtc.PeerConnection
	location string // the session's URL, from the POST's Location
}

// joinWHEP starts a WHEP player of roomID with token. Its video and sound
// are counted as the camera and microphone of stage, the participant the
// room shows it. A player only ever speaks to the SFU (the first one
// moves a mesh room there, as the first spectator's join does, whose
// welcome then says sfu): every player's join is counted.
func joinWHEP(ctx context.Context, srv *server, api *webrtc.API, rx *rxStats, token, roomID, stage string) (*participant, error) {
	p := &participant{srv: srv, rx: rx, recv: map[streamID]*seqSet{}, videos: map[string]*videoRx{}, sfu: make(chan struct{}), joinedSFU: true}
	// The join starts with the player's offer: a WHEP player must make
	// it, candidates and all, before it can ask.
	p.joinStart = time.Now()
	pc, err := api.NewPeerConnection(webrtc.Configuration{})
	if err != nil {
		return nil, err
	}
	keys := map[webrtc.RTPCodecType]string{
		webrtc.RTPCodecTypeVideo: stage + "|" + protocol.SourceCamera,
		webrtc.RTPCodecTypeAudio: stage + "|" + protocol.SourceMicrophone,
	}
	for _, kind := range []webrtc.RTPCodecType{webrtc.RTPCodecTypeVideo, webrtc.RTPCodecTypeAudio} {
		if _, err := pc.AddTransceiverFromKind(kind, webrtc.RTPTransceiverInit{Direction: webrtc.RTPTransceiverDirectionRecvonly}); err != nil {
			_ = pc.Close()
			return nil, err
		}
	}
	// Read as a subscriber's tracks are read (sfuclient), into the same
	// onPacket.
	pc.OnTrack(func(track *webrtc.TrackRemote, _ *webrtc.RTPReceiver) {
		key := keys[track.Kind()]
		buf := make([]byte, 1500)
		var pkt rtp.Packet
		for {
			n, _, err := track.Read(buf)
			if err != nil {
				return
			}
			if pkt.Unmarshal(buf[:n]) != nil {
				continue
			}
			p.onPacket(key, track.Kind() == webrtc.RTPCodecTypeVideo, pkt.Payload)
		}
	})
	pc.OnConnectionStateChange(func(st webrtc.PeerConnectionState) {
		if st == webrtc.PeerConnectionStateConnected {
			p.connectedAt.CompareAndSwap(0, time.Now().UnixNano())
		}
	})
	offer, err := pc.CreateOffer(nil)
	if err == nil {
		err = pc.SetLocalDescription(offer)
	}
	if err != nil {
		_ = pc.Close()
		return nil, fmt.Errorf("whep player: offer: %w", err)
	}
	select {
	case <-webrtc.GatheringCompletePromise(pc):
	case <-ctx.Done():
		_ = pc.Close()
		return nil, fmt.Errorf("whep player: gathering candidates: %w", ctx.Err())
	}
	answer, location, err := srv.postWHEP(ctx, roomID, token, pc.LocalDescription().SDP)
	if err != nil {
		_ = pc.Close()
		return nil, err
	}
	p.answerAt.Store(time.Now().UnixNano())
	p.whep = &whepSession{srv: srv, pc: pc, location: location}
	p.self = protocol.Participant{ID: path.Base(location)}
	if err := pc.SetRemoteDescription(webrtc.SessionDescription{Type: webrtc.SDPTypeAnswer, SDP: answer}); err != nil {
		_ = p.whep.close()
		return nil, fmt.Errorf("whep player: answer: %w", err)
	}
	return p, nil
}

// postWHEP sends a player's offer and returns the answer and the
// session's URL.
func (s *server) postWHEP(ctx context.Context, roomID, token, offer string) (answer, location string, err error) {
	where := "/api/rooms/" + url.PathEscape(roomID) + "/whep"
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, s.base.String()+where, strings.NewReader(offer))
	if err != nil {
		return "", "", err
	}
	req.Header.Set("Content-Type", "application/sdp")
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := s.http.Do(req)
	if err != nil {
		return "", "", fmt.Errorf("POST %s: %w", where, err)
	}
	defer resp.Body.Close()
	data, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if resp.StatusCode != http.StatusCreated {
		return "", "", fmt.Errorf("POST %s: %s: %s", where, resp.Status, strings.TrimSpace(string(data)))
	}
	loc, err := url.Parse(resp.Header.Get("Location"))
	if err != nil || loc.String() == "" {
		return "", "", fmt.Errorf("POST %s: no session URL in Location %q", where, resp.Header.Get("Location"))
	}
	return string(data), s.base.ResolveReference(loc).String(), nil
}

// close ends the session with a DELETE of its URL, then the connection.
func (w *whepSession) close() error {
	defer w.pc.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodDelete, w.location, nil)
	if err != nil {
		return err
	}
	resp, err := w.srv.http.Do(req)
	if err != nil {
		return fmt.Errorf("DELETE %s: %w", w.location, err)
	}
	defer resp.Body.Close()
	data, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<16))
	if resp.StatusCode/100 != 2 {
		return fmt.Errorf("DELETE %s: %s: %s", w.location, resp.Status, strings.TrimSpace(string(data)))
	}
	return nil
}
