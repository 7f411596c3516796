// Package e2e holds the end-to-end tests of the meeting app: the real server
// (package app) on an httptest listener, driven by real headless Chromium
// through chromedp, with fake camera and microphone, and checks of the
// container files. It has no code outside its tests.
//
// Run the tests with `make test` (scripts/test.sh). That command runs them in
// a private network namespace that has only the loopback interface, so that
// no WebRTC traffic can leave the machine. The browser tests refuse to run
// anywhere else: they skip, or fail when the environment variable CI is set.
package e2e
