package app

import (
	"io/fs"
	"meet/protocol"
	"net/http"
	"strings"

	"github.com/gin-gonic/gin"

	"meet/frontend"
	"meet/store"
)

// frontendRoutes serves the embedded browser application: the home page,
// the room page at every share link, and the static assets.
func (s *Server) frontendRoutes(r *gin.Engine) {
	files := http.FS(frontend.Files)
	assets := http.StripPrefix("/static/", http.FileServer(files))
	r.GET("/static/*path", func(c *gin.Context) {
		// Directory listings are not part of the app.
		if strings.HasSuffix(c.Request.URL.Path, "/") {
			s.notFound(c)
			return
		}
		c.Header("Cache-Control", "no-cache")
		assets.ServeHTTP(c.Writer, c.Request)
	})
	r.GET("/", func(c *gin.Context) { s.servePage(c, "index.html", http.StatusOK) })
	r.GET("/r/:id", func(c *gin.Context) {
		// The page itself explains an unknown room; the status tells
		// crawlers and tests the same thing.
		status := http.StatusOK
		if _, err := s.store.Room(c.Param("id")); err == store.ErrNotFound {
			status = http.StatusNotFound
		}
		s.servePage(c, "room.html", status)
	})
}

func (s *Server) servePage(c *gin.Context, name string, status int) {
	page, err := fs.ReadFile(frontend.Files, name)
	if err != nil {
		s.abortWithError(c, err)
		return
	}
	c.Header("Cache-Control", "no-cache")
	c.Data(status, "text/html; charset=utf-8", page)
}

// notFound answers unknown paths: JSON for the API, a small page otherwise.
func (s *Server) notFound(c *gin.Context) {
	path := c.Request.URL.Path
	if strings.HasPrefix(path, "/api/") || path == "/api" || path == "/ws" {
		s.abortWithError(c, newError(http.StatusNotFound, protocol.CodeNotFound, "No such API route: "+c.Request.Method+" "+path))
		return
	}
	s.servePage(c, "index.html", http.StatusNotFound)
}
