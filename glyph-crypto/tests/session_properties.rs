//! Property test: two parties exchange random numbers of messages in random
//! directions, delivered in random order with drops, duplicates and forged
//! copies. Every delivered message decrypts exactly once to its plaintext;
//! every duplicate and forgery is refused without changing the receiver's
//! state; both sides keep working afterwards.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use glyph_crypto::{EnvelopeV2, Identity, Mnemonic, PreKeyBundle, PreKeyStore, Session};
use proptest::prelude::*;

#[derive(Debug, Clone)]
enum Op {
    /// `true`: Alice sends; Bob sends only once he has a session.
    Send(bool),
    /// Deliver the in-flight message at this index (modulo).
    Deliver(usize),
    /// Lose the in-flight message at this index.
    Drop(usize),
    /// Deliver an already delivered message again.
    Duplicate(usize),
    /// Deliver a copy of an in-flight message with one bit flipped.
    Forge(usize, usize),
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        4 => any::<bool>().prop_map(Op::Send),
        4 => any::<usize>().prop_map(Op::Deliver),
        1 => any::<usize>().prop_map(Op::Drop),
        1 => any::<usize>().prop_map(Op::Duplicate),
        1 => (any::<usize>(), any::<usize>()).prop_map(|(m, bit)| Op::Forge(m, bit)),
    ]
}

struct Message {
    from_alice: bool,
    plaintext: Vec<u8>,
    envelope: EnvelopeV2,
}

struct World {
    alice_id: Identity,
    bob_id: Identity,
    bob_prekeys: PreKeyStore,
    alice: Session,
    bob: Option<Session>,
    in_flight: Vec<Message>,
    delivered: Vec<Message>,
    sent: usize,
}

impl World {
    fn new() -> Self {
        let alice_id = Identity::from_mnemonic(&Mnemonic::generate().unwrap(), "").unwrap();
        let bob_id = Identity::from_mnemonic(&Mnemonic::generate().unwrap(), "").unwrap();
        let mut bob_prekeys = PreKeyStore::new();
        let spk = bob_prekeys.rotate_signed_prekey(&bob_id).unwrap();
        let opk = bob_prekeys.generate_one_time_prekeys(1).unwrap()[0];
        let bundle = PreKeyBundle {
            identity: bob_id.public(),
            spk_id: spk.id(),
            spk_pub: *spk.public(),
            spk_sig: *spk.signature(),
            opk: Some(opk),
        };
        let alice = Session::initiate(&alice_id, &bundle).unwrap();
        Self {
            alice_id,
            bob_id,
            bob_prekeys,
            alice,
            bob: None,
            in_flight: Vec::new(),
            delivered: Vec::new(),
            sent: 0,
        }
    }

    fn send(&mut self, alice_wants: bool) {
        let from_alice = alice_wants || self.bob.is_none();
        let plaintext = format!(
            "message {} from {}",
            self.sent,
            if from_alice { "alice" } else { "bob" }
        )
        .into_bytes();
        self.sent += 1;
        let session = if from_alice {
            &mut self.alice
        } else {
            self.bob.as_mut().unwrap()
        };
        let envelope = session.encrypt(&plaintext).unwrap();
        self.in_flight.push(Message {
            from_alice,
            plaintext,
            envelope,
        });
    }

    /// The receiver's state, to check that a refusal changed nothing.
    fn receiver_state(&self, from_alice: bool) -> Vec<u8> {
        if from_alice {
            let mut bytes = self.bob_prekeys.to_bytes().to_vec();
            if let Some(bob) = &self.bob {
                bytes.extend_from_slice(&bob.to_bytes());
            }
            bytes
        } else {
            self.alice.to_bytes().to_vec()
        }
    }

    fn receive(
        &mut self,
        from_alice: bool,
        envelope: &EnvelopeV2,
    ) -> Result<Vec<u8>, glyph_crypto::Error> {
        if !from_alice {
            return self.alice.decrypt(envelope);
        }
        match &mut self.bob {
            Some(bob) => bob.decrypt(envelope),
            None => {
                let (bob, plaintext) =
                    Session::respond(&self.bob_id, &mut self.bob_prekeys, envelope)?;
                self.bob = Some(bob);
                Ok(plaintext)
            }
        }
    }

    fn deliver(&mut self, index: usize) -> Result<(), TestCaseError> {
        if self.in_flight.is_empty() {
            return Ok(());
        }
        let message = self.in_flight.remove(index % self.in_flight.len());
        let opened = self.receive(message.from_alice, &message.envelope);
        prop_assert_eq!(
            opened.as_deref().ok(),
            Some(message.plaintext.as_slice()),
            "{:?}",
            opened
        );
        self.delivered.push(message);
        Ok(())
    }

    fn refuse(
        &mut self,
        from_alice: bool,
        envelope: &EnvelopeV2,
        what: &str,
    ) -> Result<(), TestCaseError> {
        let before = self.receiver_state(from_alice);
        prop_assert!(
            self.receive(from_alice, envelope).is_err(),
            "{} was accepted",
            what
        );
        prop_assert_eq!(
            self.receiver_state(from_alice),
            before,
            "refusing {} changed the state",
            what
        );
        Ok(())
    }

    fn duplicate(&mut self, index: usize) -> Result<(), TestCaseError> {
        if self.delivered.is_empty() {
            return Ok(());
        }
        let message = &self.delivered[index % self.delivered.len()];
        let (from_alice, envelope) = (message.from_alice, message.envelope.clone());
        self.refuse(from_alice, &envelope, "a duplicate")
    }

    fn forge(&mut self, index: usize, bit: usize) -> Result<(), TestCaseError> {
        if self.in_flight.is_empty() {
            return Ok(());
        }
        let message = &self.in_flight[index % self.in_flight.len()];
        let mut forged = message.envelope.clone();
        let header_bits = 40 * 8;
        let bit = bit % (header_bits + forged.msg.ct.len() * 8);
        if bit < header_bits {
            let mut header = forged.msg.header.to_bytes();
            header[bit / 8] ^= 1 << (bit % 8);
            forged.msg.header = glyph_crypto::RatchetHeader::from_bytes(&header);
        } else {
            let bit = bit - header_bits;
            forged.msg.ct[bit / 8] ^= 1 << (bit % 8);
        }
        let from_alice = message.from_alice;
        self.refuse(from_alice, &forged, "a forgery")
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(128))]

    #[test]
    fn any_delivery_order_with_losses_and_duplicates(ops in proptest::collection::vec(op(), 1..80)) {
        let mut world = World::new();
        for op in ops {
            match op {
                Op::Send(alice) => world.send(alice),
                Op::Deliver(i) => world.deliver(i)?,
                Op::Drop(i) => {
                    if !world.in_flight.is_empty() {
                        let len = world.in_flight.len();
                        world.in_flight.remove(i % len);
                    }
                }
                Op::Duplicate(i) => world.duplicate(i)?,
                Op::Forge(i, bit) => world.forge(i, bit)?,
            }
        }
        while !world.in_flight.is_empty() {
            world.deliver(0)?;
        }
        // Both keep working: a round trip each way.
        for _ in 0..2 {
            world.send(true);
            world.deliver(0)?;
            world.send(false);
            world.deliver(0)?;
        }
        prop_assert!(world.alice.peer() == world.bob_id.public());
        prop_assert!(world.bob.as_ref().unwrap().peer() == world.alice_id.public());
    }
}
