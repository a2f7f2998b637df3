package rpc

import (
	"io"

	"connectrpc.com/connect"
	"github.com/klauspost/compress/zstd"
)

// Zstandard on the replication streams. Connect's default, gzip, costs the
// hub about 25 MB/s of a core to compress: a snapshot of a million
// customers' views (1.5 GB) took a minute of CPU in deflate alone, and a
// catching-up node's Pull as much per million events. zstd at its fastest
// level compresses several times quicker for a similar ratio on these
// repetitive protobufs, and decompresses quicker too. Replicas offer zstd
// first and gzip after, so that a member or node of a release without
// zstd still talks gzip with them; requests stay uncompressed (small, and
// an older server would refuse an unknown encoding).
const zstdName = "zstd"

// ZstdHandler lets a server answer in zstd to clients that accept it.
func ZstdHandler() connect.HandlerOption {
	return connect.WithCompression(zstdName, newZstdDecompressor, newZstdCompressor)
}

// ZstdClient makes a client accept zstd answers, preferring them to gzip
// (connect prefers the encoding registered last).
func ZstdClient() connect.ClientOption {
	return connect.WithAcceptCompression(zstdName, newZstdDecompressor, newZstdCompressor)
}

func newZstdCompressor() connect.Compressor {
	w, err := zstd.NewWriter(nil, zstd.WithEncoderLevel(zstd.SpeedFastest), zstd.WithEncoderConcurrency(1), zstd.WithLowerEncoderMem(true))
	if err != nil {
		panic("api: zstd encoder: " + err.Error()) // only for invalid options
	}
	return w
}

// zstdDecompressor adapts zstd.Decoder to connect's pool, which closes a
// decompressor after each message and resets it for the next: a closed
// zstd.Decoder cannot be reset, so Close leaves it open (with concurrency
// 1 it decodes in the caller's goroutine and holds nothing to release).
type zstdDecompressor struct{ *zstd.Decoder }

func (d zstdDecompressor) Close() error { return nil }

func (d zstdDecompressor) Reset(r io.Reader) error { return d.Decoder.Reset(r) }

func newZstdDecompressor() connect.Decompressor {
	d, err := zstd.NewReader(nil, zstd.WithDecoderConcurrency(1), zstd.WithDecoderLowmem(true))
	if err != nil {
		panic("api: zstd decoder: " + err.Error())
	}
	return zstdDecompressor{d}
}
