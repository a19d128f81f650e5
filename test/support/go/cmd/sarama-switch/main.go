// sarama-switch: a long-running sarama (IBM/sarama) client for the switchover tests, ONE process
// with an async producer and a consumer group kept running across route switches. Driven by
// test/support/switchover/go-clients.ts; the protocol is rdkafka_switch_client.py's.
//
//	sarama-switch --bootstrap B --topic T --group G [--interval-ms MS] [-X key=value ...]
//
// sarama.NewConfig()'s defaults (protocol version 2.8, Metadata.Full=true: metadata for ALL
// topics, not idempotent, 3 retries 100 ms apart, consumer group with the range balancer,
// offsets auto-committed every second), except what the harness needs: RequiredAcks=WaitForAll
// (every pair of the suite acknowledges with acks=all, sarama's default is the leader only),
// Producer.Return.Successes (to see acknowledgements), Consumer.Return.Errors (to report them
// rather than only log them) and Consumer.Offsets.Initial=OffsetOldest (a new group reads the
// topic from the start, as every other pair's auto.offset.reset=earliest). Settings:
//
//	-X security.protocol=SASL_PLAINTEXT -X sasl.mechanisms=PLAIN -X sasl.username=U -X sasl.password=P
//	-X enable.idempotence=true    Producer.Idempotent with Net.MaxOpenRequests=1 (both required by sarama)
//
// sarama has no KIP-848 consumer (no ConsumerGroupHeartbeat), so there is no group.protocol.
// The producer sends one record every MS milliseconds, key "k<seq>", value "s-<seq>".
// stdout and stdin as franz-switch's; sarama's log goes to stderr.
package main

import (
	"context"
	"errors"
	"log"
	"os"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/IBM/sarama"
	"turnout.test/clients/internal/harness"
)

const about = "sarama-switch --bootstrap B --topic T --group G [--interval-ms MS] [-X key=value ...]"

type sent struct {
	seq    int
	sentAt int64
}

type handler struct{}

func (handler) Setup(s sarama.ConsumerGroupSession) error {
	harness.Emit(map[string]any{"assigned": harness.SortedPartitions(s.Claims()), "at": harness.NowMs()})
	return nil
}

func (handler) Cleanup(s sarama.ConsumerGroupSession) error {
	harness.Emit(map[string]any{"revoked": harness.SortedPartitions(s.Claims()), "at": harness.NowMs()})
	return nil
}

func (handler) ConsumeClaim(s sarama.ConsumerGroupSession, claim sarama.ConsumerGroupClaim) error {
	for {
		select {
		case m, ok := <-claim.Messages():
			if !ok {
				return nil
			}
			harness.Emit(map[string]any{"consumed": string(m.Value), "partition": m.Partition, "offset": m.Offset, "at": harness.NowMs()})
			s.MarkMessage(m, "")
		case <-s.Context().Done():
			return nil
		}
	}
}

func main() {
	a := harness.ParseSwitchArgs(about)
	sarama.Logger = log.New(os.Stderr, "[sarama] ", log.Ltime|log.Lmicroseconds)
	config := func(role string) *sarama.Config {
		c := sarama.NewConfig()
		c.ClientID = "turnout-switch-sarama-" + role
		return c
	}
	pc, cc := config("producer"), config("consumer")
	if s := a.X.SASL(); s != nil {
		for _, c := range []*sarama.Config{pc, cc} {
			c.Net.SASL.Enable = true
			c.Net.SASL.Mechanism = sarama.SASLTypePlaintext
			c.Net.SASL.User, c.Net.SASL.Password = s.User, s.Password
		}
	}
	pc.Producer.RequiredAcks = sarama.WaitForAll
	pc.Producer.Return.Successes = true
	if a.X.Bool("enable.idempotence", false) {
		pc.Producer.Idempotent = true
		pc.Net.MaxOpenRequests = 1
	}
	cc.Consumer.Return.Errors = true
	cc.Consumer.Offsets.Initial = sarama.OffsetOldest
	a.X.CheckAllTaken()

	cmd := harness.ReadCommands()
	producer, err := sarama.NewAsyncProducer(a.Bootstrap, pc)
	if err != nil {
		harness.Emit(map[string]any{"fatal": "producer: " + err.Error(), "at": harness.NowMs()})
		os.Exit(1)
	}
	group, err := sarama.NewConsumerGroup(a.Bootstrap, a.Group, cc)
	if err != nil {
		harness.Emit(map[string]any{"fatal": "consumer group: " + err.Error(), "at": harness.NowMs()})
		os.Exit(1)
	}

	var pending atomic.Int64
	var reported sync.WaitGroup
	reported.Add(2)
	go func() {
		defer reported.Done()
		for m := range producer.Successes() {
			s := m.Metadata.(sent)
			harness.Emit(map[string]any{"ack": s.seq, "partition": m.Partition, "offset": m.Offset, "sentAt": s.sentAt, "ackAt": harness.NowMs()})
			pending.Add(-1)
		}
	}()
	go func() {
		defer reported.Done()
		for e := range producer.Errors() {
			s := e.Msg.Metadata.(sent)
			harness.Emit(map[string]any{"sendError": s.seq, "error": e.Err.Error(), "sentAt": s.sentAt})
			pending.Add(-1)
		}
	}()
	go func() {
		for err := range group.Errors() {
			harness.Emit(map[string]any{"consumerError": err.Error(), "at": harness.NowMs()})
		}
	}()
	cmd.ReportUnknown()
	ctx, cancel := context.WithCancel(context.Background())
	consumed := make(chan struct{})
	go func() {
		defer close(consumed)
		// What an application does: Consume returns at every rebalance, so it is called in a loop.
		for ctx.Err() == nil {
			if err := group.Consume(ctx, []string{a.Topic}, handler{}); err != nil {
				if errors.Is(err, sarama.ErrClosedConsumerGroup) {
					if ctx.Err() == nil {
						harness.Emit(map[string]any{"fatal": "consumer group closed by itself: " + err.Error(), "at": harness.NowMs()})
					}
					return
				}
				harness.Emit(map[string]any{"consumerError": "Consume: " + err.Error(), "at": harness.NowMs()})
				harness.Sleep(time.Second, ctx.Done())
			}
		}
	}()
	harness.Emit(map[string]any{"started": true})

	seq, unflushed := cmd.Produce(time.Duration(a.IntervalMs)*time.Millisecond, func(seq int) bool {
		s := sent{seq: seq, sentAt: harness.NowMs()}
		pending.Add(1)
		m := &sarama.ProducerMessage{Topic: a.Topic, Key: sarama.StringEncoder("k" + strconv.Itoa(s.seq)), Value: sarama.StringEncoder("s-" + strconv.Itoa(s.seq)), Metadata: s}
		select {
		case producer.Input() <- m:
			return true
		case <-cmd.StopProducing: // the producer's buffer is full and it stopped taking records
			pending.Add(-1)
			return false
		}
	}, func() int64 {
		// AsyncClose flushes what is buffered (each record ends in Successes or Errors), then closes both channels.
		producer.AsyncClose()
		flushed := make(chan struct{})
		go func() { reported.Wait(); close(flushed) }()
		select {
		case <-flushed:
		case <-time.After(30 * time.Second):
		}
		return pending.Load()
	})
	cancel()
	<-consumed
	group.Close() // commits the marked offsets and leaves the group
	harness.Emit(map[string]any{"done": true, "sent": seq, "unflushed": unflushed})
}
