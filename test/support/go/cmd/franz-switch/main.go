// franz-switch: a long-running franz-go client for the switchover tests, ONE process with a
// producer and a group consumer kept running across route switches. Driven by
// test/support/switchover/go-clients.ts; the protocol is rdkafka_switch_client.py's.
//
//	franz-switch --bootstrap B --topic T --group G [--interval-ms MS] [-X key=value ...]
//
// Both clients keep franz-go's defaults: the producer is idempotent, acks=all, snappy-compressed,
// retries without limit; the consumer group is the classic protocol with the cooperative-sticky
// balancer, autocommits every 5 s and starts a new group at the start of the log. Settings:
//
//	-X security.protocol=SASL_PLAINTEXT -X sasl.mechanisms=PLAIN -X sasl.username=U -X sasl.password=P
//	-X group.protocol=consumer    KIP-848 (kgo.ServerSideBalancer; the default balancer qualifies)
//
// The producer sends one record every MS milliseconds, key "k<seq>", value "f-<seq>".
// stdout, one JSON object per line:
//
//	{"started":true}
//	{"ack":seq,"partition","offset","sentAt","ackAt"} / {"sendError":seq,"error","sentAt"}
//	{"consumed":value,"partition","offset","at"}      / {"consumerError":"...","at"}
//	{"assigned":[...]} / {"revoked":[...]} / {"lost":[...]}   group membership changes
//	{"fatal":"...","at"}   the client stopped working by itself
//
// stdin: "stop-producing" (stop, flush, print {"producerStopped":true,"sent","unflushed"}; the
// consumer keeps consuming), "stop" or end of input (flush, leave the group, {"done":true,...},
// exit 0). franz-go's log (info and above) goes to stderr.
package main

import (
	"context"
	"fmt"
	"os"
	"strconv"
	"sync/atomic"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/sasl/plain"
	"turnout.test/clients/internal/harness"
)

const about = "franz-switch --bootstrap B --topic T --group G [--interval-ms MS] [-X key=value ...]"

func logger(role string) kgo.Logger {
	return kgo.BasicLogger(os.Stderr, kgo.LogLevelInfo, func() string {
		return time.Now().Format("15:04:05.000") + " franz-" + role + " "
	})
}

func main() {
	a := harness.ParseSwitchArgs(about)
	common := []kgo.Opt{kgo.SeedBrokers(a.Bootstrap...)}
	if s := a.X.SASL(); s != nil {
		common = append(common, kgo.SASL(plain.Auth{User: s.User, Pass: s.Password}.AsMechanism()))
	}
	groupProtocol := a.X.Take("group.protocol")
	a.X.CheckAllTaken()

	producer, err := kgo.NewClient(append(common, kgo.ClientID("turnout-switch-franz-producer"), kgo.WithLogger(logger("producer")))...)
	if err != nil {
		harness.Usage(err.Error())
	}
	consumerOpts := append(common,
		kgo.ClientID("turnout-switch-franz-consumer"),
		kgo.WithLogger(logger("consumer")),
		kgo.ConsumerGroup(a.Group),
		kgo.ConsumeTopics(a.Topic),
		kgo.OnPartitionsAssigned(func(_ context.Context, _ *kgo.Client, m map[string][]int32) {
			harness.Emit(map[string]any{"assigned": harness.SortedPartitions(m), "at": harness.NowMs()})
		}),
		kgo.OnPartitionsRevoked(func(_ context.Context, _ *kgo.Client, m map[string][]int32) {
			harness.Emit(map[string]any{"revoked": harness.SortedPartitions(m), "at": harness.NowMs()})
		}),
		kgo.OnPartitionsLost(func(_ context.Context, _ *kgo.Client, m map[string][]int32) {
			harness.Emit(map[string]any{"lost": harness.SortedPartitions(m), "at": harness.NowMs()})
		}),
	)
	switch groupProtocol {
	case "", "classic":
	case "consumer":
		consumerOpts = append(consumerOpts, kgo.ServerSideBalancer())
	default:
		harness.Usage("group.protocol must be classic or consumer")
	}
	consumer, err := kgo.NewClient(consumerOpts...)
	if err != nil {
		harness.Usage(err.Error())
	}

	cmd := harness.ReadCommands()
	ctx, cancel := context.WithCancel(context.Background())
	consumed := make(chan struct{})
	go func() {
		defer close(consumed)
		for {
			fetches := consumer.PollFetches(ctx)
			if ctx.Err() != nil {
				return
			}
			if fetches.IsClientClosed() {
				harness.Emit(map[string]any{"fatal": "consumer: the client closed by itself", "at": harness.NowMs()})
				return
			}
			fetches.EachError(func(topic string, partition int32, err error) {
				harness.Emit(map[string]any{"consumerError": fmt.Sprintf("%s[%d]: %v", topic, partition, err), "at": harness.NowMs()})
			})
			fetches.EachRecord(func(r *kgo.Record) {
				harness.Emit(map[string]any{"consumed": string(r.Value), "partition": r.Partition, "offset": r.Offset, "at": harness.NowMs()})
			})
		}
	}()
	cmd.ReportUnknown()
	harness.Emit(map[string]any{"started": true})

	var pending atomic.Int64
	seq, unflushed := cmd.Produce(time.Duration(a.IntervalMs)*time.Millisecond, func(s int) bool {
		sentAt := harness.NowMs()
		pending.Add(1)
		producer.Produce(ctx, &kgo.Record{Topic: a.Topic, Key: []byte("k" + strconv.Itoa(s)), Value: []byte("f-" + strconv.Itoa(s))}, func(r *kgo.Record, err error) {
			defer pending.Add(-1)
			if err != nil {
				harness.Emit(map[string]any{"sendError": s, "error": err.Error(), "sentAt": sentAt})
				return
			}
			harness.Emit(map[string]any{"ack": s, "partition": r.Partition, "offset": r.Offset, "sentAt": sentAt, "ackAt": harness.NowMs()})
		})
		return true
	}, func() int64 {
		flushCtx, flushed := context.WithTimeout(context.Background(), 30*time.Second)
		producer.Flush(flushCtx)
		flushed()
		return pending.Load()
	})
	cancel()
	<-consumed
	producer.Close()
	consumer.Close() // leaves the group (commits first: autocommit's close behaviour)
	harness.Emit(map[string]any{"done": true, "sent": seq, "unflushed": unflushed})
}
