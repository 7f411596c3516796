package main

import (
	"context"
	"fmt"
	"io"
	"maps"
	"slices"
	"strconv"
	"strings"
	"time"

	"meet/protocol"
)

// Simulcast in the meeting scenario (-simulcast): every publisher sends
// its camera as three layers, as Chromium does with a 720-line camera
// (sfu/uptrack.go: RIDs q, h and f, lowest first), each layer's keyframes
// announcing its own size and its bit rate a share of -bitrate close to a
// browser's. Each viewer reports a tile size for every camera with `view`
// messages, dealt from the -tiles mix; the SFU forwards the lowest layer
// whose size covers the tile, and the receivers count what came of each
// layer and the width its keyframes announce.

// maxLayers is how many layers a camera has at most.
const maxLayers = 3

// simulcastShapes are the layers of a simulcast camera: size, and bit
// rate as a share of -bitrate (Chromium's defaults for a 720-line camera
// are near 150 kbit/s, 500 kbit/s and 1.5 Mbit/s).
var simulcastShapes = [maxLayers]struct {
	rid           string
	width, height int
	share         float64
}{
	{"q", 320, 180, 0.1},
	{"h", 640, 360, 1.0 / 3},
	{"f", 1280, 720, 1},
}

// cameraLayers is what each publisher's camera sends: one 1280x720 stream
// at bitrate, or the three simulcast layers.
func cameraLayers(bitrate int, simulcast bool) []videoLayer {
	if !simulcast {
		return []videoLayer{{Width: 1280, Height: 720, Bitrate: bitrate}}
	}
	layers := make([]videoLayer, maxLayers)
	for i, s := range simulcastShapes {
		layers[i] = videoLayer{RID: s.rid, Width: s.width, Height: s.height, Bitrate: int(float64(bitrate) * s.share)}
	}
	return layers
}

// tileSize is a viewer's tile of one camera in device pixels; 0x0: not
// watched.
type tileSize struct {
	Width  int `json:"width"`
	Height int `json:"height"`
}

func (t tileSize) String() string { return fmt.Sprintf("%dx%d", t.Width, t.Height) }

// parseTiles reads -tiles, "WxH:weight,...", into the cycle the tiles are
// dealt from: each size repeated weight times, in the order given.
func parseTiles(spec string) ([]tileSize, error) {
	var cycle []tileSize
	for _, part := range strings.Split(spec, ",") {
		size, weight, found := strings.Cut(strings.TrimSpace(part), ":")
		n := 1
		if found {
			var err error
			if n, err = strconv.Atoi(weight); err != nil || n < 1 || n > 100 {
				return nil, fmt.Errorf("-tiles %q: weight %q: want 1 to 100", spec, weight)
			}
		}
		w, h, ok := strings.Cut(size, "x")
		t := tileSize{}
		var errW, errH error
		t.Width, errW = strconv.Atoi(w)
		t.Height, errH = strconv.Atoi(h)
		if !ok || errW != nil || errH != nil || t.Width < 0 || t.Height < 0 ||
			t.Width > protocol.MaxViewPixels || t.Height > protocol.MaxViewPixels || (t.Width == 0) != (t.Height == 0) {
			return nil, fmt.Errorf("-tiles %q: size %q: want WIDTHxHEIGHT (0x0: not watched)", spec, size)
		}
		for range n {
			cycle = append(cycle, t)
		}
	}
	if len(cycle) > 1000 {
		return nil, fmt.Errorf("-tiles %q: weights add up to more than 1000", spec)
	}
	return cycle, nil
}

// expectedLayer is the layer the SFU should forward for tile: the lowest
// whose size covers nine tenths of it, else the top (the rule of
// sfu/layers.go chooseLayer); -1 for a tile not watched.
func expectedLayer(layers []videoLayer, tile tileSize) int {
	if tile.Width == 0 {
		return -1
	}
	for i, l := range layers {
		if l.Width*10 >= tile.Width*9 && l.Height*10 >= tile.Height*9 {
			return i
		}
	}
	return len(layers) - 1
}

// dealTiles gives every viewer a tile of every other publisher's camera,
// going round cycle: viewer after viewer, each one's publishers starting
// after itself, so that each camera is shown large to some viewers and
// small to others. It returns, per viewer, camera key → tile.
func dealTiles(receivers, publishers []*participant, cycle []tileSize) map[*participant]map[string]tileSize {
	tiles := map[*participant]map[string]tileSize{}
	deal := 0
	for i, r := range receivers {
		tiles[r] = map[string]tileSize{}
		for k := range publishers {
			pub := publishers[(i+1+k)%len(publishers)]
			if pub == r {
				continue
			}
			tiles[r][pub.self.ID+"|"+protocol.SourceCamera] = cycle[deal%len(cycle)]
			deal++
		}
	}
	return tiles
}

// sendViews reports r's tiles to the server, as a page reports the sizes
// of its video tiles.
func sendViews(r *participant, tiles map[string]tileSize) error {
	var views []protocol.TrackView
	for _, key := range slices.Sorted(maps.Keys(tiles)) {
		id, _, _ := strings.Cut(key, "|")
		t := tiles[key]
		views = append(views, protocol.TrackView{ID: id, Source: protocol.SourceCamera, Width: t.Width, Height: t.Height})
	}
	for len(views) > 0 {
		n := min(len(views), protocol.MaxViews)
		if err := r.ss.send(protocol.View{Type: protocol.TypeView, Views: views[:n]}); err != nil {
			return fmt.Errorf("participant %s: view: %w", r.self.ID, err)
		}
		views = views[n:]
	}
	return nil
}

// layerSettle is how long, once every viewer gets some layer of every
// camera, the run waits for each tile to get its own layer: the SFU moves
// a subscriber at the next keyframe of the layer, which it asks for.
const layerSettle = 5 * time.Second

// awaitLayers waits, up to layerSettle, until every watched tile gets the
// layer that fits it. What does not (the SFU's bandwidth estimate of the
// viewer may hold it lower) is left to the tile figures.
func (m *mediaRun) awaitLayers(ctx context.Context) {
	deadline := time.Now().Add(layerSettle)
	for {
		missing := 0
		for _, r := range m.receivers {
			for key, tile := range m.tiles[r] {
				if want := expectedLayer(m.layers, tile); want >= 0 && !r.has(streamID{key, want}) {
					missing++
				}
			}
		}
		if missing == 0 {
			return
		}
		if time.Now().After(deadline) || ctx.Err() != nil {
			m.logf("%d tiles still without the layer that fits them after %s; measuring anyway", missing, layerSettle)
			return
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// counts reports whether what r got of s counts in the deliveries and
// the loss: every stream of the others. Of a simulcast camera, the one
// layer that came in the window (the tile's, unless the SFU's bandwidth
// estimate held it lower: off_layer_tracks), or the tile's if none came;
// nothing when the SFU moved r from one layer to another in the window
// (switched_tracks: a layer's packets from before or after its stint
// would count as lost), nor of a camera r does not watch.
func (m *mediaRun) counts(r *participant, s *stream) bool {
	if r.owns(s) {
		return false
	}
	if !s.video || m.tiles == nil {
		return true
	}
	layer := expectedLayer(m.layers, m.tiles[r][s.key])
	if layer < 0 {
		return false
	}
	if got := r.camera(s.key); got != nil {
		switch l, switched := got.windowLayer(); {
		case switched:
			return false
		case l >= 0:
			layer = l
		}
	}
	return s.layer == layer
}

// simulcastResult shows the mix: what each publisher sends, and per tile
// size what the viewers' tiles of that size received.
type simulcastResult struct {
	Layers []layerResult `json:"layers"`
	Tiles  []tileResult  `json:"tiles"`
}

// layerResult is one layer: its shape, what all publishers sent of it in
// the window, and what arrived of it at all viewers while measuring.
type layerResult struct {
	videoLayer
	SentPackets     uint64  `json:"sent_packets"`
	Tracks          int     `json:"tracks"` // viewer-camera pairs whose tile asks for it
	ReceivedPackets uint64  `json:"received_packets"`
	ReceivedBytes   uint64  `json:"received_bytes"` // RTP payload
	KbpsPerTrack    float64 `json:"kbps_per_track"` // received, over Tracks
}

// tileResult is every viewer's tiles of one size.
type tileResult struct {
	tileSize
	Tracks      int    `json:"tracks"`       // viewer-camera pairs with a tile of this size
	ExpectedRID string `json:"expected_rid"` // the layer that fits ("-": none, not watched)
	// ReceivedWidths counts the tracks by the width the last keyframe
	// they received announced ("none": no keyframe came).
	ReceivedWidths map[string]int `json:"received_widths"`
	// ReceivedPackets counts what arrived while measuring, by layer.
	ReceivedPackets map[string]uint64 `json:"received_packets_by_rid"`
	// OffLayer counts the tracks that got one layer in the window, not
	// the tile's (of a tile not watched: any), and Switched those that
	// got more than one; neither is loss, and Switched ones are left out
	// of the deliveries and the loss.
	OffLayer int `json:"off_layer_tracks"`
	Switched int `json:"switched_tracks"`
}

// simulcastFigures sums up, over the window w, what the viewers got of
// each camera by tile size and by layer.
func (m *mediaRun) simulcastFigures(streams []*stream, w mediaWindow) *simulcastResult {
	res := &simulcastResult{}
	for i, l := range m.layers {
		lr := layerResult{videoLayer: l}
		for j, s := range streams {
			if s.video && s.layer == i {
				lr.SentPackets += uint64(w.last[j] - w.first[j])
			}
		}
		res.Layers = append(res.Layers, lr)
	}
	classes := map[tileSize]*tileResult{}
	for _, r := range m.receivers {
		for _, key := range slices.Sorted(maps.Keys(m.tiles[r])) {
			tile := m.tiles[r][key]
			want := expectedLayer(m.layers, tile)
			if want >= 0 {
				res.Layers[want].Tracks++
			}
			c := classes[tile]
			if c == nil {
				c = &tileResult{tileSize: tile, ExpectedRID: "-", ReceivedWidths: map[string]int{}, ReceivedPackets: map[string]uint64{}}
				if want >= 0 {
					c.ExpectedRID = m.layers[want].RID
				}
				classes[tile] = c
			}
			c.Tracks++
			got := r.camera(key)
			width := "none"
			if got != nil && got.width > 0 {
				width = strconv.Itoa(got.width)
			}
			c.ReceivedWidths[width]++
			if got == nil {
				continue
			}
			switch l, switched := got.windowLayer(); {
			case switched:
				c.Switched++
			case l >= 0 && l != want:
				c.OffLayer++
			}
			for i := range m.layers {
				if got.packets[i] > 0 {
					c.ReceivedPackets[m.layers[i].RID] += got.packets[i]
				}
				res.Layers[i].ReceivedPackets += got.packets[i]
				res.Layers[i].ReceivedBytes += got.bytes[i]
			}
		}
	}
	for i := range res.Layers {
		if l := &res.Layers[i]; l.Tracks > 0 {
			l.KbpsPerTrack = float64(l.ReceivedBytes) * 8 / 1000 / w.length.Seconds() / float64(l.Tracks)
		}
	}
	// Largest tiles first.
	for _, t := range slices.SortedFunc(maps.Keys(classes), func(a, b tileSize) int {
		if d := b.Width*b.Height - a.Width*a.Height; d != 0 {
			return d
		}
		return b.Width - a.Width
	}) {
		res.Tiles = append(res.Tiles, *classes[t])
	}
	return res
}

// printSimulcast adds the mix to the summary.
func printSimulcast(w io.Writer, s *simulcastResult) {
	fmt.Fprintf(w, "  simulcast: each publisher sends")
	for _, l := range s.Layers {
		fmt.Fprintf(w, " %s %dx%d at %d kbit/s;", l.RID, l.Width, l.Height, l.Bitrate/1000)
	}
	fmt.Fprintln(w)
	for _, t := range s.Tiles {
		fmt.Fprintf(w, "    tiles %s: %d tracks, layer wanted %s; last keyframe widths %v; packets by layer %v; %d tracks on another layer, %d moved between layers (not counted)\n",
			t.tileSize, t.Tracks, t.ExpectedRID, t.ReceivedWidths, t.ReceivedPackets, t.OffLayer, t.Switched)
	}
	for _, l := range s.Layers {
		fmt.Fprintf(w, "    layer %s: %d tracks want it; %d packets, %.0f kbit/s per track received (sent %d)\n",
			l.RID, l.Tracks, l.ReceivedPackets, l.KbpsPerTrack, l.SentPackets)
	}
}
