#pragma once

// The checks every exchange passes before it is routed, one function per stage, in the order
// pipeline.cc runs them. Each reads and writes the ExchangeContext and returns Ok to continue
// or the Status the consumer is refused with (refusal.cc turns it into the answer). They run on
// the connection's I/O thread, never block, and depend only on what they are given, so each is
// tested alone (stages_test.cc).

#include <memory>

#include "auth/token.h"
#include "base/status.h"
#include "engine/exchange.h"
#include "engine/guards.h"
#include "registry/snapshot.h"

namespace govesb::engine {

// The envelope (JSON, or XML when the Content-Type says so), parsed from the request body,
// which it takes. Sets x.envelope.
Status ParseStage(ExchangeContext& x);

// The bearer token: the Authorization header (with or without "Bearer "), or `authorization`
// inside data (Java connector 0.1.5). Sets x.snapshot and x.caller.
Status AuthenticateStage(ExchangeContext& x, const auth::TokenService& tokens,
                         std::shared_ptr<const registry::Snapshot> snapshot);

// pushCode -> push; requestId without apiCode (or the /async paths) -> asynchronous answer;
// userId -> identity (NIDA) request; apiCode -> pull. Sets x.kind and the codes.
Status ClassifyStage(ExchangeContext& x);

// The caller's request rate: its system's token bucket, and for a pull its bucket for that
// API, with the limits the registry sets (or the bus defaults). Runs before the signature is
// verified, so that a flood costs no verification. Refused with kResourceExhausted (HTTP 429)
// and x.retry_after_seconds set.
Status AdmitStage(ExchangeContext& x, Guards& guards);

// The caller's signature, with its registered key: the exact bytes first, then (unless the
// system's fallbacks are turned off) the variants of wire::VerifyEnvelope. A variant whose
// verified text is not the text the bus would pass on is refused. Sets x.variant and
// x.data_sha256 (of the text passed on, for the evidence log and the replay window).
Status VerifyStage(ExchangeContext& x);

// Push: the topic exists and is enabled (a disabled one: kFailedPrecondition; what it accepted
// before is still delivered) and the caller publishes it. Pull and identity requests: the API
// exists and is enabled (a disabled one: kFailedPrecondition), the caller holds an approved
// grant, its provider is enabled (and its institution not suspended) and has a usable key.
// Asynchronous answers are authorised by the delivery module (the answerer really owes one).
// Sets x.topic, or x.api and x.provider.
Status AuthoriseStage(ExchangeContext& x);

// Part of authorise for a pull: the `purpose` a request declares in its data must be one its
// grant allows (a code, registry::ValidatePurposeCode), and a grant that requires one refuses a
// request without. Sets x.log.purpose.
Status CheckPurpose(ExchangeContext& x, const registry::Snapshot::GrantTerms& grant);

// The same signed bytes from the same system within the replay window. A push or an
// asynchronous answer seen before is refused (accepting it would deliver it twice), naming the
// first one's requestId; a pull is recorded and counted (x.log.replay_of), and refused only
// where its API's replay policy says so. Sets x.replay_recorded when this exchange's bytes
// are now remembered (pipeline.cc forgets them again if the exchange fails).
Status ReplayStage(ExchangeContext& x, Guards& guards);

}  // namespace govesb::engine
