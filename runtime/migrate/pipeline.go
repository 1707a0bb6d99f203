package migrate

import (
	"context"
	"errors"
	"sync"
)

// pipeline reads a stream range and decodes it on several goroutines,
// delivering the decoded batches in stream order on out. One reader
// goroutine, decoders decoding goroutines and one sequencer; at most
// 2·decoders batches are buffered. The owner calls stop, which cancels and
// waits for all of them.
type pipeline struct {
	out    chan []decoded // closed at the end of the range, or on an error
	cancel context.CancelFunc
	wg     sync.WaitGroup

	mu   sync.Mutex // guards err and read
	err  error      // the reader's error
	read uint64     // messages read, once the reader is done
}

// job is one batch to decode and where its result goes.
type job struct {
	msgs []sourceMsg
	res  chan []decoded
}

// startPipeline reads sequences from…to of src. decode turns a message
// into a decoded one (it runs on the decoding goroutines).
func startPipeline(ctx context.Context, src *stream, from, to uint64, decoders int, decode func(sourceMsg) decoded) *pipeline {
	ctx, cancel := context.WithCancel(ctx)
	p := &pipeline{out: make(chan []decoded), cancel: cancel}
	jobs := make(chan job)
	order := make(chan chan []decoded, 2*decoders)
	p.wg.Go(func() {
		defer close(order)
		defer close(jobs)
		n, err := src.read(ctx, from, to, func(msgs []sourceMsg) error {
			j := job{msgs: msgs, res: make(chan []decoded, 1)}
			select {
			case order <- j.res:
			case <-ctx.Done():
				return ctx.Err()
			}
			select {
			case jobs <- j:
				return nil
			case <-ctx.Done():
				return ctx.Err()
			}
		})
		p.mu.Lock()
		p.read = n
		if err != nil && !errors.Is(err, context.Canceled) {
			p.err = err
			cancel()
		}
		p.mu.Unlock()
	})
	for range decoders {
		p.wg.Go(func() {
			for j := range jobs {
				out := make([]decoded, len(j.msgs))
				for i, m := range j.msgs {
					out[i] = decode(m)
				}
				j.res <- out // buffered: never blocks
			}
		})
	}
	p.wg.Go(func() {
		defer close(p.out)
		for res := range order {
			var batch []decoded
			select {
			case batch = <-res:
			case <-ctx.Done():
				return
			}
			select {
			case p.out <- batch:
			case <-ctx.Done():
				return
			}
		}
	})
	return p
}

// stop cancels the pipeline, waits for its goroutines and returns the
// reader's error, if any.
func (p *pipeline) stop() error {
	p.cancel()
	p.wg.Wait()
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.err
}

// messages returns the number of messages the reader read (after stop).
func (p *pipeline) messages() uint64 {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.read
}

// drain delivers every batch to each on the caller's goroutine until the
// range ends, then stops the pipeline. It returns each's first error, or
// the reader's.
func (p *pipeline) drain(ctx context.Context, each func([]decoded) error) error {
	for {
		select {
		case batch, ok := <-p.out:
			if !ok {
				if err := p.stop(); err != nil {
					return err
				}
				return ctx.Err()
			}
			if err := each(batch); err != nil {
				if serr := p.stop(); serr != nil {
					return errors.Join(err, serr)
				}
				return err
			}
		case <-ctx.Done():
			if err := p.stop(); err != nil {
				return err
			}
			return ctx.Err()
		}
	}
}
