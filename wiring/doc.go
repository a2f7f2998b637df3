// Package wiring puts Branchline together, in one place: it hands the node
// and the hub — which know no domain — this release's event kinds, tasks
// and reactions (package kinds), and builds on them the use cases, the
// Connect services (api) and the web pages (web and its page packages),
// the SIP switch and the courier dispatcher. cmd/branchline runs what it
// assembles (serve, demo, bench); so do the tests that need the whole
// product, which could not import a main package.
//
// Dependencies point inward: wiring imports everything, nothing imports
// wiring but cmd and tests.
package wiring
