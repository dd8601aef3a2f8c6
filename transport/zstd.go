package transport

import (
	"errors"
	"fmt"

	"github.com/klauspost/compress/zstd"
)

// MaxDecodedBytes caps what Decompress returns: a zstd bomb stops here.
const MaxDecodedBytes = 64 << 20

// ErrTooLarge is returned (wrapped) by Decompress for input that would
// decompress to more than its cap.
var ErrTooLarge = errors.New("transport: decompressed message too large")

var (
	encoder, _       = zstd.NewWriter(nil, zstd.WithEncoderLevel(zstd.SpeedDefault))
	encoderBetter, _ = zstd.NewWriter(nil, zstd.WithEncoderLevel(zstd.SpeedBetterCompression))
	decoder, _       = zstd.NewReader(nil, zstd.WithDecoderMaxMemory(MaxDecodedBytes), zstd.WithDecoderConcurrency(0))
)

// Compress returns b as one zstd frame. Safe for concurrent use.
func Compress(b []byte) []byte { return encoder.EncodeAll(b, nil) }

// CompressSmaller is Compress at a slower level that makes smaller frames,
// for bulk transfers (snapshots), where bytes count more than the CPU.
func CompressSmaller(b []byte) []byte { return encoderBetter.EncodeAll(b, nil) }

// Decompress reverses Compress; it refuses output beyond max bytes (at most
// MaxDecodedBytes), so a small message cannot claim a large allocation.
// Safe for concurrent use.
func Decompress(b []byte, max int) ([]byte, error) {
	raw, err := decoder.DecodeAll(b, nil)
	if errors.Is(err, zstd.ErrDecoderSizeExceeded) || errors.Is(err, zstd.ErrWindowSizeExceeded) || err == nil && len(raw) > max {
		return nil, fmt.Errorf("%w: over %d bytes", ErrTooLarge, max)
	}
	if err != nil {
		return nil, fmt.Errorf("transport: decompress: %w", err)
	}
	return raw, nil
}
