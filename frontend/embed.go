// Package frontend embeds the browser application: plain ES modules, HTML
// and CSS, served as they are with no build step.
package frontend

import "embed"

// Files holds index.html, room.html and the css/, js/ and i18n/ folders.
//
//go:embed index.html room.html css js i18n
var Files embed.FS
