package pbx

import (
	"io"
	"log/slog"
	"net"
	"testing"
)

// TestOnePortForUDPAndTCP: asked for one address with port 0 for both
// transports, the switch listens on one port for UDP and TCP, and a TCP
// connection to the UDP address is accepted. Several starts, since a
// switch that bound the two independently would hardly ever get the same
// port twice by chance.
func TestOnePortForUDPAndTCP(t *testing.T) {
	store := newMemStore(t)
	for range 5 {
		srv, err := Start(Config{UDPAddr: "127.0.0.1:0", TCPAddr: "127.0.0.1:0", Store: store, Log: slog.New(slog.NewTextHandler(io.Discard, nil))})
		if err != nil {
			t.Fatal(err)
		}
		if srv.UDPAddr() != srv.TCPAddr() {
			srv.Close()
			t.Fatalf("UDP on %s, TCP on %s: want one port", srv.UDPAddr(), srv.TCPAddr())
		}
		c, err := net.Dial("tcp", srv.UDPAddr())
		if err != nil {
			srv.Close()
			t.Fatal(err)
		}
		c.Close()
		srv.Close()
	}
}
