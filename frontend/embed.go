// Package frontend embeds the browser application: plain ES modules, HTML
// and CSS, served as they are with no build step.
package frontend

import "embed"

// Files holds index.html, room.html and the css/ and js/ folders.
//
//go:embed index.html room.html css js
var Files embed.FS
