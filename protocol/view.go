package protocol

// The viewer's side of what the SFU sends (issue 16): a page tells the
// server how it shows each video it receives from the SFU, so that each
// track is forwarded at the simulcast layer that fits its tile, and not at
// all when nobody looks at it.
const (
	// Client → server: the sizes the page shows SFU video tracks at.
	TypeView = "view"
)

// MaxViews is how many tracks one view message may describe.
const MaxViews = 64

// MaxViewPixels bounds a tile's reported width and height.
const MaxViewPixels = 16384

// View reports how the page shows some of the video tracks it receives
// over the SFU: each entry replaces what was said of that track before.
type View struct {
	Type  string      `json:"type"`
	Views []TrackView `json:"views"`
}

// TrackView is one video track as the page shows it: the tile of
// participant ID's Source, Width x Height device pixels; 0x0 when the page
// does not watch it (off screen, a paused tile, a hidden page, audio only).
// Pinned asks for the track's best layer whatever the tile's size ("show
// in high quality"), and for it first when the viewer's bandwidth is
// short.
type TrackView struct {
	ID     string `json:"id"`
	Source string `json:"source"`
	Width  int    `json:"width"`
	Height int    `json:"height"`
	Pinned bool   `json:"pinned,omitempty"`
}

func (m *View) validate() error {
	if len(m.Views) == 0 || len(m.Views) > MaxViews {
		return invalid("%s needs 1 to %d views.", TypeView, MaxViews)
	}
	for _, v := range m.Views {
		switch {
		case !printableID(v.ID):
			return invalid(`%s: each view needs the participant "id" it is about.`, TypeView)
		case v.Source != SourceCamera && v.Source != SourceScreen:
			return invalid(`%s: "source" must be %q or %q.`, TypeView, SourceCamera, SourceScreen)
		case v.Width < 0 || v.Height < 0 || v.Width > MaxViewPixels || v.Height > MaxViewPixels:
			return invalid("%s: width and height must be 0 to %d.", TypeView, MaxViewPixels)
		}
	}
	return nil
}
