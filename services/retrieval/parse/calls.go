package parse

import "sync"

// calls admits calls until it is shut, then waits for those admitted.
// PDFium and Process embed one; their mu also guards their own state, and
// Process counts its background restarts on wg too.
type calls struct {
	mu     sync.Mutex
	closed bool
	wg     sync.WaitGroup
}

// enter admits a call, which defers wg.Done, or fails with ErrClosed.
func (c *calls) enter() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.closed {
		return ErrClosed
	}
	c.wg.Add(1)
	return nil
}

// shut refuses new calls, runs onShut (nil: nothing) under mu, and waits
// for the admitted ones. It reports false, doing nothing, when already shut.
func (c *calls) shut(onShut func()) bool {
	c.mu.Lock()
	if c.closed {
		c.mu.Unlock()
		return false
	}
	c.closed = true
	if onShut != nil {
		onShut()
	}
	c.mu.Unlock()
	c.wg.Wait()
	return true
}
