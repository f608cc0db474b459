//! Vectors for spec sections 3-5: the X3DH handshake and whole
//! conversations over the Double Ratchet, replayed event by event.

use serde_json::{Value, json};

use super::reader::{Mismatch, Vector, fixed};
use crate::session::Session;
use crate::x3dh::{self, OneTimePreKey, PreKeyBundle, PreKeyStore, SignedPreKey};
use crate::{DhKeyPair, EnvelopeV2, Error, Identity};

fn hex(bytes: &[u8]) -> String {
    hex::encode(bytes)
}

/// The fixed inputs of one handshake.
struct HandshakeInputs {
    a_sign_sk: [u8; 32],
    a_dh_sk: [u8; 32],
    b_sign_sk: [u8; 32],
    b_dh_sk: [u8; 32],
    b_spk_id: u32,
    b_spk_sk: [u8; 32],
    b_opk: Option<(u32, [u8; 32])>,
    a_ek_sk: [u8; 32],
}

impl HandshakeInputs {
    fn fixed(label: &str, spk_id: u32, opk_id: Option<u32>) -> Self {
        let f = |part: &str| fixed::<32>(&format!("glyph/vectors/{label}/{part}"));
        Self {
            a_sign_sk: f("a_sign"),
            a_dh_sk: f("a_dh"),
            b_sign_sk: f("b_sign"),
            b_dh_sk: f("b_dh"),
            b_spk_id: spk_id,
            b_spk_sk: f("b_spk"),
            b_opk: opk_id.map(|id| (id, f("b_opk"))),
            a_ek_sk: f("a_ek"),
        }
    }

    fn read(v: &Vector<'_>) -> Result<Self, Mismatch> {
        let opk = match (
            v.nullable_u32("b_opk_id")?,
            v.nullable_hex_array::<32>("b_opk_sk")?,
        ) {
            (Some(id), Some(sk)) => Some((id, sk)),
            (None, None) => None,
            _ => {
                return Err(v.fail(
                    "b_opk_id",
                    "b_opk_id and b_opk_sk must both be null or both set",
                ));
            }
        };
        Ok(Self {
            a_sign_sk: v.hex_array("a_sign_sk")?,
            a_dh_sk: v.hex_array("a_dh_sk")?,
            b_sign_sk: v.hex_array("b_sign_sk")?,
            b_dh_sk: v.hex_array("b_dh_sk")?,
            b_spk_id: v.u32("b_spk_id")?,
            b_spk_sk: v.hex_array("b_spk_sk")?,
            b_opk: opk,
            a_ek_sk: v.hex_array("a_ek_sk")?,
        })
    }

    fn to_json(&self, comment: &str) -> serde_json::Map<String, Value> {
        let value = json!({
            "comment": comment,
            "a_sign_sk": hex(&self.a_sign_sk),
            "a_dh_sk": hex(&self.a_dh_sk),
            "b_sign_sk": hex(&self.b_sign_sk),
            "b_dh_sk": hex(&self.b_dh_sk),
            "b_spk_id": self.b_spk_id,
            "b_spk_sk": hex(&self.b_spk_sk),
            "b_opk_id": self.b_opk.map(|(id, _)| id),
            "b_opk_sk": self.b_opk.map(|(_, sk)| hex(&sk)),
            "a_ek_sk": hex(&self.a_ek_sk),
        });
        match value {
            Value::Object(map) => map,
            _ => serde_json::Map::new(),
        }
    }

    fn alice(&self) -> Identity {
        Identity::from_secret_keys(&self.a_sign_sk, &self.a_dh_sk)
    }

    fn bob(&self) -> Identity {
        Identity::from_secret_keys(&self.b_sign_sk, &self.b_dh_sk)
    }

    fn spk(&self) -> SignedPreKey {
        SignedPreKey::from_secret(&self.bob(), self.b_spk_id, &self.b_spk_sk)
    }

    /// Bob's bundle as a server would hand it out.
    fn bundle(&self) -> PreKeyBundle {
        let spk = self.spk();
        PreKeyBundle {
            identity: self.bob().public(),
            spk_id: spk.id(),
            spk_pub: *spk.public(),
            spk_sig: *spk.signature(),
            opk: self
                .b_opk
                .map(|(id, sk)| (id, *DhKeyPair::from_secret_bytes(&sk).public())),
        }
    }

    /// Bob's own prekeys.
    fn bob_prekeys(&self) -> PreKeyStore {
        let mut store = PreKeyStore::new();
        store.insert_signed_prekey(self.spk());
        if let Some((id, sk)) = self.b_opk {
            store.insert_one_time_prekey(OneTimePreKey::from_secret(id, &sk));
        }
        store
    }
}

const X3DH_CASES: [(&str, u32, Option<u32>); 3] = [
    ("with a one-time prekey", 1, Some(7)),
    ("without a one-time prekey (the server ran out)", 2, None),
    (
        "ids at the top of the u32 range",
        u32::MAX,
        Some(u32::MAX - 1),
    ),
];

pub(super) fn x3dh() -> Result<Vec<Value>, Error> {
    X3DH_CASES
        .iter()
        .enumerate()
        .map(|(i, (comment, spk_id, opk_id))| {
            let inputs = HandshakeInputs::fixed(&format!("x3dh/{i}"), *spk_id, *opk_id);
            let ek = DhKeyPair::from_secret_bytes(&inputs.a_ek_sk);
            let (agreement, header) = x3dh::initiate(&inputs.alice(), &inputs.bundle(), &ek)?;
            let mut vector = inputs.to_json(comment);
            vector.insert("spk_sig".into(), hex(inputs.spk().signature()).into());
            vector.insert("sk".into(), hex(&*agreement.sk).into());
            vector.insert("ad".into(), hex(&agreement.ad).into());
            vector.insert("header".into(), header.to_json_value());
            Ok(Value::Object(vector))
        })
        .collect()
}

pub(super) fn check_x3dh(v: &Vector<'_>) -> Result<(), Mismatch> {
    let inputs = HandshakeInputs::read(v)?;
    v.expect_hex("spk_sig", inputs.spk().signature())?;
    let ek = DhKeyPair::from_secret_bytes(&inputs.a_ek_sk);
    let (agreement, header) = x3dh::initiate(&inputs.alice(), &inputs.bundle(), &ek)
        .map_err(|e| v.fail("sk", format!("initiator failed: {e}")))?;
    v.expect_hex("sk", &*agreement.sk)?;
    v.expect_hex("ad", &agreement.ad)?;
    let stated = v.expect_wire("header", &header, crate::X3dhHeader::from_json_value)?;
    let spk = inputs.spk();
    let opk = inputs
        .b_opk
        .map(|(_, sk)| DhKeyPair::from_secret_bytes(&sk));
    let responder = x3dh::respond(&inputs.bob(), spk.pair(), opk.as_ref(), &stated)
        .map_err(|e| v.fail("header", format!("responder failed: {e}")))?;
    if *responder.sk != *agreement.sk || responder.ad != agreement.ad {
        return Err(v.fail("sk", "the responder derives a different SK or AD"));
    }
    Ok(())
}

/// One step of a conversation timeline.
#[derive(Debug, Clone)]
enum Event {
    Send { from_a: bool, plaintext: Vec<u8> },
    Recv { msg: usize, reject: bool },
}

fn send(from_a: bool, text: &str) -> Event {
    Event::Send {
        from_a,
        plaintext: text.as_bytes().to_vec(),
    }
}

fn recv(msg: usize) -> Event {
    Event::Recv { msg, reject: false }
}

fn replay(msg: usize) -> Event {
    Event::Recv { msg, reject: true }
}

impl Event {
    fn to_json(&self) -> Value {
        match self {
            Event::Send { from_a, plaintext } => {
                json!({"op": "send", "from": if *from_a { "a" } else { "b" }, "plaintext": hex(plaintext)})
            }
            Event::Recv { msg, reject: false } => json!({"op": "recv", "msg": msg}),
            Event::Recv { msg, reject: true } => {
                json!({"op": "recv", "msg": msg, "expect": "reject"})
            }
        }
    }

    fn read(v: &Vector<'_>, value: &Value) -> Result<Self, Mismatch> {
        let field = |name: &str| {
            value
                .get(name)
                .ok_or_else(|| v.fail("events", format!("an event has no `{name}`")))
        };
        match field("op")?.as_str() {
            Some("send") => {
                let from_a = match field("from")?.as_str() {
                    Some("a") => true,
                    Some("b") => false,
                    _ => return Err(v.fail("events", "`from` must be \"a\" or \"b\"")),
                };
                let plaintext = field("plaintext")?
                    .as_str()
                    .filter(|t| !t.bytes().any(|b| b.is_ascii_uppercase()))
                    .and_then(|t| hex::decode(t).ok())
                    .ok_or_else(|| v.fail("events", "`plaintext` must be lowercase hex"))?;
                Ok(Event::Send { from_a, plaintext })
            }
            Some("recv") => {
                let msg = field("msg")?
                    .as_u64()
                    .and_then(|n| usize::try_from(n).ok())
                    .ok_or_else(|| v.fail("events", "`msg` must be an index"))?;
                let reject = match value.get("expect") {
                    None => false,
                    Some(expect) if expect.as_str() == Some("reject") => true,
                    Some(_) => return Err(v.fail("events", "`expect` can only be \"reject\"")),
                };
                Ok(Event::Recv { msg, reject })
            }
            _ => Err(v.fail("events", "`op` must be \"send\" or \"recv\"")),
        }
    }
}

/// Ratchet keys handed out in order, as each side generates them.
struct KeyList {
    keys: Vec<[u8; 32]>,
    used: usize,
}

impl KeyList {
    fn next(&mut self) -> Result<DhKeyPair, Error> {
        let key = self.keys.get(self.used).ok_or(Error::Rng)?;
        self.used += 1;
        Ok(DhKeyPair::from_secret_bytes(key))
    }
}

/// A conversation replayed from its inputs and events. `stated` holds the
/// envelopes a vector file gives, which must match what we produce; each
/// `recv` decrypts the stated envelope (so the file's objects are decoded
/// too), or ours when generating.
struct Replay {
    a: Session,
    b: Option<Session>,
    bob: Identity,
    b_prekeys: PreKeyStore,
    a_keys: KeyList,
    b_keys: KeyList,
    sent: Vec<(bool, Vec<u8>, EnvelopeV2)>,
}

/// What went wrong in a replay, and at which event.
struct ReplayError {
    event: usize,
    field: &'static str,
    detail: String,
}

fn at(event: usize, field: &'static str, detail: impl Into<String>) -> ReplayError {
    ReplayError {
        event,
        field,
        detail: detail.into(),
    }
}

impl Replay {
    fn start(
        inputs: &HandshakeInputs,
        a_keys: Vec<[u8; 32]>,
        b_keys: Vec<[u8; 32]>,
    ) -> Result<Self, ReplayError> {
        let mut a_keys = KeyList {
            keys: a_keys,
            used: 0,
        };
        let first = a_keys
            .next()
            .map_err(|_| at(0, "a_ratchet_sks", "needs at least one key"))?;
        let a = Session::initiate_with_keys(
            &inputs.alice(),
            &inputs.bundle(),
            &DhKeyPair::from_secret_bytes(&inputs.a_ek_sk),
            first,
        )
        .map_err(|e| at(0, "a_ek_sk", format!("initiating failed: {e}")))?;
        Ok(Self {
            a,
            b: None,
            bob: inputs.bob(),
            b_prekeys: inputs.bob_prekeys(),
            a_keys,
            b_keys: KeyList {
                keys: b_keys,
                used: 0,
            },
            sent: Vec::new(),
        })
    }

    /// Runs every event; `stated` gives the envelopes to compare with and
    /// to deliver (when checking a file).
    fn run(
        mut self,
        events: &[Event],
        stated: Option<&[EnvelopeV2]>,
    ) -> Result<Vec<EnvelopeV2>, ReplayError> {
        for (index, event) in events.iter().enumerate() {
            match event {
                Event::Send { from_a, plaintext } => {
                    self.send(index, *from_a, plaintext, stated)?
                }
                Event::Recv { msg, reject } => self.recv(index, *msg, *reject)?,
            }
        }
        if self.a_keys.used != self.a_keys.keys.len() {
            return Err(at(
                events.len(),
                "a_ratchet_sks",
                format!(
                    "{} keys listed, {} used",
                    self.a_keys.keys.len(),
                    self.a_keys.used
                ),
            ));
        }
        if self.b_keys.used != self.b_keys.keys.len() {
            return Err(at(
                events.len(),
                "b_ratchet_sks",
                format!(
                    "{} keys listed, {} used",
                    self.b_keys.keys.len(),
                    self.b_keys.used
                ),
            ));
        }
        Ok(self
            .sent
            .into_iter()
            .map(|(_, _, envelope)| envelope)
            .collect())
    }

    fn send(
        &mut self,
        index: usize,
        from_a: bool,
        plaintext: &[u8],
        stated: Option<&[EnvelopeV2]>,
    ) -> Result<(), ReplayError> {
        let session = if from_a {
            &mut self.a
        } else {
            self.b
                .as_mut()
                .ok_or_else(|| at(index, "events", "B sends before it has received"))?
        };
        let ours = session
            .encrypt(plaintext)
            .map_err(|e| at(index, "events", format!("encrypting failed: {e}")))?;
        let k = self.sent.len();
        let delivered = match stated {
            Some(stated) => {
                let theirs = stated
                    .get(k)
                    .ok_or_else(|| at(index, "envelopes", format!("no envelope {k}")))?;
                if theirs != &ours {
                    return Err(at(
                        index,
                        "envelopes",
                        format!("envelope {k} differs from the computed one"),
                    ));
                }
                theirs.clone()
            }
            None => ours,
        };
        self.sent.push((from_a, plaintext.to_vec(), delivered));
        Ok(())
    }

    fn recv(&mut self, index: usize, msg: usize, reject: bool) -> Result<(), ReplayError> {
        let (from_a, plaintext, envelope) = self.sent.get(msg).cloned().ok_or_else(|| {
            at(
                index,
                "events",
                format!("recv of message {msg}, not sent yet"),
            )
        })?;
        let before = self.state_bytes(from_a);
        let outcome = if from_a {
            self.b_receives(&envelope)
        } else {
            self.a
                .decrypt_with_keys(&envelope, &mut || self.a_keys.next())
        };
        match (outcome, reject) {
            (Ok(opened), false) if opened == plaintext => Ok(()),
            (Ok(_), false) => Err(at(
                index,
                "events",
                format!("message {msg} decrypts to another plaintext"),
            )),
            (Err(e), false) => Err(at(
                index,
                "events",
                format!("message {msg} does not decrypt: {e}"),
            )),
            (Ok(_), true) => Err(at(
                index,
                "events",
                format!("message {msg} should be rejected but decrypts"),
            )),
            (Err(_), true) if self.state_bytes(from_a) == before => Ok(()),
            (Err(_), true) => Err(at(
                index,
                "events",
                format!("rejecting message {msg} changed the receiver's state"),
            )),
        }
    }

    fn b_receives(&mut self, envelope: &EnvelopeV2) -> Result<Vec<u8>, Error> {
        let keys = &mut self.b_keys;
        match &mut self.b {
            Some(session) => session.decrypt_with_keys(envelope, &mut || keys.next()),
            None => {
                let (session, plaintext) = Session::respond_with_keys(
                    &self.bob,
                    &mut self.b_prekeys,
                    envelope,
                    &mut || keys.next(),
                )?;
                self.b = Some(session);
                Ok(plaintext)
            }
        }
    }

    /// The receiver's whole state, to show a rejection changed nothing.
    fn state_bytes(&self, from_a: bool) -> Vec<u8> {
        if from_a {
            let mut bytes = self.b_prekeys.to_bytes().to_vec();
            if let Some(b) = &self.b {
                bytes.extend_from_slice(&b.to_bytes());
            }
            bytes
        } else {
            self.a.to_bytes().to_vec()
        }
    }
}

fn session_cases() -> Vec<(&'static str, Option<u32>, Vec<Event>)> {
    vec![
        (
            "OPK present: out-of-order first contact, a replay, DH steps both ways, a never-delivered message",
            Some(11),
            vec![
                send(true, "hi Bob"),
                send(true, "are you there?"),
                recv(1),
                recv(0),
                replay(0),
                send(false, "hi Alice"),
                recv(2),
                send(true, "good, you got them"),
                recv(3),
                send(false, "first of two"),
                send(false, "second of two"),
                recv(5),
                recv(4),
                send(true, "this one is lost"),
                send(true, "and this one arrives"),
                recv(7),
                send(false, "got the second"),
                recv(8),
                replay(8),
            ],
        ),
        (
            "OPK absent: an empty message, the first message replayed after the reply",
            None,
            vec![
                send(true, ""),
                recv(0),
                send(false, "reply"),
                replay(0),
                recv(1),
                send(true, "no header from now on"),
                recv(2),
                replay(1),
            ],
        ),
        (
            "OPK present: B's messages arrive across chains, with pn and never-delivered keys",
            Some(12),
            vec![
                send(true, "start"),
                recv(0),
                send(false, "b1"),
                send(false, "b2 (never delivered)"),
                send(false, "b3"),
                recv(3),
                send(true, "a after b3"),
                recv(4),
                send(false, "b4 on a new chain"),
                recv(5),
                recv(1),
                send(true, "a again"),
                send(true, "a twice"),
                recv(7),
                recv(6),
                replay(6),
            ],
        ),
    ]
}

/// One side's ratchet secret keys, in order of use.
type KeyLists = Vec<[u8; 32]>;

/// How many ratchet keys each side generates in a timeline, found by running
/// it with an unlimited supply.
fn keys_needed(
    inputs: &HandshakeInputs,
    label: &str,
    events: &[Event],
) -> Result<(KeyLists, KeyLists), Error> {
    let supply = |side: &str| {
        (0..64)
            .map(|i| fixed::<32>(&format!("glyph/vectors/{label}/{side}_ratchet/{i}")))
            .collect::<Vec<_>>()
    };
    let mut replay =
        Replay::start(inputs, supply("a"), supply("b")).map_err(|_| Error::DecryptionFailed)?;
    for (index, event) in events.iter().enumerate() {
        let step = match event {
            Event::Send { from_a, plaintext } => replay.send(index, *from_a, plaintext, None),
            Event::Recv { msg, reject } => replay.recv(index, *msg, *reject),
        };
        step.map_err(|_| Error::DecryptionFailed)?;
    }
    let (mut a, mut b) = (replay.a_keys.keys, replay.b_keys.keys);
    a.truncate(replay.a_keys.used);
    b.truncate(replay.b_keys.used);
    Ok((a, b))
}

pub(super) fn session() -> Result<Vec<Value>, Error> {
    session_cases()
        .into_iter()
        .enumerate()
        .map(|(i, (comment, opk_id, events))| {
            let label = format!("session/{i}");
            let inputs = HandshakeInputs::fixed(&label, 1, opk_id);
            let (a_keys, b_keys) = keys_needed(&inputs, &label, &events)?;
            let envelopes = Replay::start(&inputs, a_keys.clone(), b_keys.clone())
                .and_then(|replay| replay.run(&events, None))
                .map_err(|_| Error::DecryptionFailed)?;
            let mut vector = inputs.to_json(comment);
            vector.insert(
                "a_ratchet_sks".into(),
                a_keys.iter().map(|k| hex(k)).collect(),
            );
            vector.insert(
                "b_ratchet_sks".into(),
                b_keys.iter().map(|k| hex(k)).collect(),
            );
            vector.insert("events".into(), events.iter().map(Event::to_json).collect());
            vector.insert(
                "envelopes".into(),
                envelopes.iter().map(EnvelopeV2::to_json_value).collect(),
            );
            Ok(Value::Object(vector))
        })
        .collect()
}

fn key_list(v: &Vector<'_>, field: &str) -> Result<Vec<[u8; 32]>, Mismatch> {
    v.value(field)?
        .as_array()
        .ok_or_else(|| v.fail(field, "must be an array"))?
        .iter()
        .map(|key| {
            key.as_str()
                .filter(|t| !t.bytes().any(|b| b.is_ascii_uppercase()))
                .and_then(|t| hex::decode(t).ok())
                .and_then(|bytes| <[u8; 32]>::try_from(bytes.as_slice()).ok())
                .ok_or_else(|| v.fail(field, "every key must be 32 bytes of lowercase hex"))
        })
        .collect()
}

pub(super) fn check_session(v: &Vector<'_>) -> Result<(), Mismatch> {
    let inputs = HandshakeInputs::read(v)?;
    let events = v
        .value("events")?
        .as_array()
        .ok_or_else(|| v.fail("events", "must be an array"))?
        .iter()
        .map(|event| Event::read(v, event))
        .collect::<Result<Vec<_>, _>>()?;
    let stated = v
        .value("envelopes")?
        .as_array()
        .ok_or_else(|| v.fail("envelopes", "must be an array"))?
        .iter()
        .enumerate()
        .map(|(k, value)| {
            EnvelopeV2::from_json_value(value)
                .map_err(|e| v.fail("envelopes", format!("envelope {k} does not decode: {e}")))
        })
        .collect::<Result<Vec<_>, _>>()?;
    let produced = Replay::start(
        &inputs,
        key_list(v, "a_ratchet_sks")?,
        key_list(v, "b_ratchet_sks")?,
    )
    .and_then(|replay| replay.run(&events, Some(&stated)))
    .map_err(|e| v.fail(e.field, format!("event {}: {}", e.event, e.detail)))?;
    if produced.len() != stated.len() {
        return Err(v.fail(
            "envelopes",
            format!(
                "{} envelopes listed, {} sends",
                stated.len(),
                produced.len()
            ),
        ));
    }
    Ok(())
}

pub(super) fn fixed_conversation() -> Result<(Session, Session), Error> {
    let inputs = HandshakeInputs::fixed("fixed-conversation", 1, Some(1));
    let mut alice = Session::initiate_with_keys(
        &inputs.alice(),
        &inputs.bundle(),
        &DhKeyPair::from_secret_bytes(&inputs.a_ek_sk),
        DhKeyPair::from_secret_bytes(&fixed("glyph/vectors/fixed-conversation/a_ratchet/0")),
    )?;
    let first = alice.encrypt(b"hello")?;
    let mut b_key = Some(DhKeyPair::from_secret_bytes(&fixed(
        "glyph/vectors/fixed-conversation/b_ratchet/0",
    )));
    let (mut bob, _) = Session::respond_with_keys(
        &inputs.bob(),
        &mut inputs.bob_prekeys(),
        &first,
        &mut || b_key.take().ok_or(Error::Rng),
    )?;
    let reply = bob.encrypt(b"hi")?;
    let mut a_key = Some(DhKeyPair::from_secret_bytes(&fixed(
        "glyph/vectors/fixed-conversation/a_ratchet/1",
    )));
    alice.decrypt_with_keys(&reply, &mut || a_key.take().ok_or(Error::Rng))?;
    Ok((alice, bob))
}
