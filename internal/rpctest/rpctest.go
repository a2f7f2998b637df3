// Package rpctest lets tests call every procedure of Branchline's Connect
// services as an outsider would, over a real listener, without knowing
// them in advance: the procedures are read from the service descriptors
// the generated code registers, so a test that walks them covers an RPC
// as soon as it is added. It is imported by tests only.
package rpctest

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"slices"
	"strings"

	"branchline/rpc"

	"connectrpc.com/connect"
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/reflect/protoregistry"
	"google.golang.org/protobuf/types/known/emptypb"
)

// Procedure is one RPC of a service.
type Procedure struct {
	Service string // full name, "branchline.crm.v1.CustomerService"
	Method  string // "GetCustomer"
	// Streaming is set for procedures whose client or server streams.
	Streaming bool
}

// Path is the procedure's HTTP path, "/<service>/<method>".
func (p Procedure) Path() string { return "/" + p.Service + "/" + p.Method }

func (p Procedure) String() string { return p.Service + "/" + p.Method }

// Procedures lists every procedure of every service of Branchline's API
// (protobuf package branchline.*) that the generated code linked into the
// test binary registered, sorted by path. A server's tests see every
// service the server mounts: mounting one links its generated code.
func Procedures() []Procedure {
	var out []Procedure
	protoregistry.GlobalFiles.RangeFiles(func(fd protoreflect.FileDescriptor) bool {
		if !strings.HasPrefix(string(fd.Package()), "branchline.") {
			return true
		}
		svcs := fd.Services()
		for i := range svcs.Len() {
			sd := svcs.Get(i)
			ms := sd.Methods()
			for j := range ms.Len() {
				md := ms.Get(j)
				out = append(out, Procedure{Service: string(sd.FullName()), Method: string(md.Name()),
					Streaming: md.IsStreamingClient() || md.IsStreamingServer()})
			}
		}
		return true
	})
	slices.SortFunc(out, func(a, b Procedure) int { return strings.Compare(a.Path(), b.Path()) })
	return out
}

// Served reports whether the server at base mounts p: a call without
// credentials reaches a Connect handler, which answers with a Connect
// error (unauthenticated, or invalid_argument for a public procedure
// called with nothing), where a path nothing mounts does not.
func Served(ctx context.Context, hc *http.Client, base string, p Procedure) (bool, error) {
	ctype, body := "application/proto", []byte(nil)
	if p.Streaming {
		ctype, body = "application/connect+proto", make([]byte, 5) // one empty message
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, base+p.Path(), bytes.NewReader(body))
	if err != nil {
		return false, err
	}
	req.Header.Set("Content-Type", ctype)
	resp, err := hc.Do(req)
	if err != nil {
		return false, fmt.Errorf("%s: %w", p, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if err != nil {
		return false, fmt.Errorf("%s: %w", p, err)
	}
	if p.Streaming && resp.StatusCode == http.StatusOK && len(b) > 5 && b[0]&2 != 0 {
		b = b[5:] // the end-of-stream message carries the error
		var end struct {
			Error *struct{ Code string } `json:"error"`
		}
		return json.Unmarshal(b, &end) == nil && end.Error != nil && end.Error.Code != "", nil
	}
	var ce struct{ Code string }
	return resp.StatusCode != http.StatusOK && json.Unmarshal(b, &ce) == nil && ce.Code != "" &&
		ce.Code != connect.CodeUnimplemented.String(), nil
}

// Call calls p at base with an empty request and token as bearer, and
// returns the call's error (nil when it succeeded). The answer's content
// is not read: an empty message of any type reads every message.
func Call(ctx context.Context, hc *http.Client, base, token string, p Procedure) error {
	c := connect.NewClient[emptypb.Empty, emptypb.Empty](hc, base+p.Path(), rpc.WithBearer(token))
	if !p.Streaming {
		_, err := c.CallUnary(ctx, connect.NewRequest(&emptypb.Empty{}))
		return err
	}
	s, err := c.CallServerStream(ctx, connect.NewRequest(&emptypb.Empty{}))
	if err != nil {
		return err
	}
	defer s.Close()
	// The first message, or the stream's end with its error.
	s.Receive()
	return s.Err()
}
