package pbx

import (
	"errors"
	"fmt"
	"log/slog"
	"net"
	"syscall"
)

// bindTries is how many fresh UDP ports bind tries when the one the OS
// gave UDP is taken for TCP.
const bindTries = 8

// bind opens the switch's sockets (an address "" opens none). When UDP
// and TCP are asked for on one address with port 0, TCP gets the port the
// OS gave UDP: phones, trunks and tests know the switch by one host:port
// for both transports (a Contact or Via names one port), and picking a
// free port, releasing it and then binding it raced other processes. That
// port may be taken for TCP; then bind tries again with a fresh one.
func bind(udpAddr, tcpAddr string) (net.PacketConn, net.Listener, error) {
	if udpAddr == "" || udpAddr != tcpAddr || !anyPort(udpAddr) {
		return bindEach(udpAddr, tcpAddr)
	}
	var err error
	for range bindTries {
		var u net.PacketConn
		if u, err = net.ListenPacket("udp", udpAddr); err != nil {
			return nil, nil, fmt.Errorf("listen udp %s: %w", udpAddr, err)
		}
		same := u.LocalAddr().String()
		var l net.Listener
		if l, err = net.Listen("tcp", same); err == nil {
			return u, l, nil
		}
		u.Close()
		err = fmt.Errorf("listen tcp %s (the port UDP got): %w", same, err)
		if !errors.Is(err, syscall.EADDRINUSE) {
			break
		}
	}
	return nil, nil, err
}

// bindEach opens the sockets at the addresses as given.
func bindEach(udpAddr, tcpAddr string) (u net.PacketConn, l net.Listener, err error) {
	if udpAddr != "" {
		if u, err = net.ListenPacket("udp", udpAddr); err != nil {
			return nil, nil, fmt.Errorf("listen udp %s: %w", udpAddr, err)
		}
	}
	if tcpAddr != "" {
		if l, err = net.Listen("tcp", tcpAddr); err != nil {
			if u != nil {
				u.Close()
			}
			return nil, nil, fmt.Errorf("listen tcp %s: %w", tcpAddr, err)
		}
	}
	return u, l, nil
}

// anyPort reports whether addr leaves the port to the OS.
func anyPort(addr string) bool {
	_, port, err := net.SplitHostPort(addr)
	return err == nil && (port == "0" || port == "")
}

// udpReadBuffer is the receive buffer the switch asks for its UDP socket.
// The kernel's default (about 200 KiB) holds a tenth of a second of
// traffic at 1,000 calls/s; when the switch's read loop stalls longer (a
// GC, a busy machine) the kernel drops what comes next, and ACKs and BYEs
// are not retransmitted by the caller as an INVITE is: the calls are lost.
// The kernel caps it at net.core.rmem_max (Kamailio, Asterisk and
// FreeSWITCH raise theirs likewise).
const udpReadBuffer = 8 << 20

// growReadBuffer asks for udpReadBuffer on c; a refusal costs only
// headroom, so it is logged, not returned.
func growReadBuffer(c net.PacketConn, log *slog.Logger) {
	u, ok := c.(*net.UDPConn)
	if !ok {
		return
	}
	if err := u.SetReadBuffer(udpReadBuffer); err != nil {
		log.Warn("sip: udp receive buffer", "want", udpReadBuffer, "err", err)
	}
}
