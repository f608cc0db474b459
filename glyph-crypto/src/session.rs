//! Sessions: X3DH to start, the Double Ratchet to go on, and the rules of
//! spec sections 3 and 5 about which session a message belongs to.

use core::fmt;

use zeroize::Zeroizing;

use crate::envelope::{EnvelopeV2, RatchetMessage};
use crate::error::{DecodeError, Error};
use crate::identity::{Identity, PublicIdentity};
use crate::keys::{DhKeyPair, DhPublicKey};
use crate::ratchet::Ratchet;
use crate::state_codec::{StateReader, StateWriter};
use crate::x3dh::{self, AD_LEN, PreKeyBundle, PreKeyStore, X3dhHeader};

pub use crate::spec::MAX_SESSIONS_PER_PEER;

const SESSION_MAGIC: &[u8; 4] = b"GLSS";
const SESSION_VERSION: u8 = 1;
const PEER_MAGIC: &[u8; 4] = b"GLPS";
const PEER_VERSION: u8 = 1;

/// A source of fresh ratchet keys: the OS in applications, a list in tests.
type KeySource<'a> = &'a mut dyn FnMut() -> Result<DhKeyPair, Error>;

fn os_key() -> Result<DhKeyPair, Error> {
    DhKeyPair::generate()
}

/// Which side of the handshake this session is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Role {
    /// We sent the X3DH header; `awaiting_reply` until we decrypt a message.
    Initiator {
        header: X3dhHeader,
        awaiting_reply: bool,
    },
    /// The peer's header created this session.
    Responder { header: X3dhHeader },
}

/// Where a session sends next.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SendingPosition {
    /// The sending chain, named by its ratchet public key (a fresh key
    /// pair starts every chain).
    pub chain: DhPublicKey,
    /// The position (`n`) the chain's next message takes.
    pub next: u32,
}

/// One end-to-end session with one peer: a Double Ratchet started by X3DH.
///
/// Persist it with [`Session::to_bytes`] after every `encrypt` and successful
/// `decrypt`; a failed `decrypt` changes nothing. A message must not leave
/// before the state after it is stored, or a crash could send a second
/// message under the same key; a device that stores lazily reserves
/// positions ahead instead, and skips past them after a crash
/// ([`Session::skip_sending_to`]).
#[derive(Clone)]
pub struct Session {
    role: Role,
    ad: [u8; AD_LEN],
    /// The peer's half of `ad`, parsed once (and checked when read back).
    peer: PublicIdentity,
    ratchet: Ratchet,
}

impl Session {
    /// Starts a session with the owner of `bundle` (verifying its SPK
    /// signature first: a bad one is [`Error::BadSignature`]).
    pub fn initiate(me: &Identity, bundle: &PreKeyBundle) -> Result<Self, Error> {
        Self::initiate_with_keys(me, bundle, &DhKeyPair::generate()?, DhKeyPair::generate()?)
    }

    /// [`Session::initiate`] with the ephemeral and first ratchet keys given,
    /// for test vectors.
    pub(crate) fn initiate_with_keys(
        me: &Identity,
        bundle: &PreKeyBundle,
        ek: &DhKeyPair,
        first_ratchet_key: DhKeyPair,
    ) -> Result<Self, Error> {
        Self::initiate_as(&me.public(), me.dh(), bundle, ek, first_ratchet_key)
    }

    /// A session started as `claimed` with the DH secret `dh` only (see
    /// [`x3dh::initiate_as`]): how a forger impersonates, for tests.
    pub(crate) fn initiate_as(
        claimed: &PublicIdentity,
        dh: &DhKeyPair,
        bundle: &PreKeyBundle,
        ek: &DhKeyPair,
        first_ratchet_key: DhKeyPair,
    ) -> Result<Self, Error> {
        let (agreement, header) = x3dh::initiate_as(claimed, dh, bundle, ek)?;
        let ratchet = Ratchet::initiator(&agreement.sk, &bundle.spk_pub, first_ratchet_key)?;
        Ok(Self {
            role: Role::Initiator {
                header,
                awaiting_reply: true,
            },
            ad: agreement.ad,
            peer: bundle.identity,
            ratchet,
        })
    }

    /// Creates the responder's session from the first envelope received with
    /// a new X3DH header, and decrypts it. The one-time prekey it names is
    /// deleted from `prekeys` only if decryption succeeds, and the header is
    /// remembered there; a header naming a prekey `prekeys` does not hold
    /// fails with [`Error::UnknownPreKey`], and one that created a session
    /// before with [`Error::ReplayedHandshake`].
    pub fn respond(
        me: &Identity,
        prekeys: &mut PreKeyStore,
        envelope: &EnvelopeV2,
    ) -> Result<(Self, Vec<u8>), Error> {
        Self::respond_with_keys(me, prekeys, envelope, &mut os_key)
    }

    pub(crate) fn respond_with_keys(
        me: &Identity,
        prekeys: &mut PreKeyStore,
        envelope: &EnvelopeV2,
        next_key: KeySource<'_>,
    ) -> Result<(Self, Vec<u8>), Error> {
        let header = envelope.x3dh.ok_or(Error::NoSession)?;
        let spk = prekeys
            .signed(header.spk_id)
            .ok_or(Error::UnknownPreKey(header.spk_id))?;
        let opk = match header.opk_id {
            Some(id) => Some(prekeys.one_time(id).ok_or(Error::UnknownPreKey(id))?),
            None => None,
        };
        if prekeys.handshake_seen(&header) {
            return Err(Error::ReplayedHandshake);
        }
        let agreement = x3dh::respond(me, spk.pair(), opk.map(|o| o.pair()), &header)?;
        let mut session = Self {
            role: Role::Responder { header },
            ad: agreement.ad,
            peer: header.identity,
            ratchet: Ratchet::responder(&agreement.sk, spk.pair().clone()),
        };
        let plaintext = session.decrypt_with_keys(envelope, next_key)?;
        if let Some(id) = header.opk_id {
            prekeys.consume_one_time(id);
        }
        prekeys.remember_handshake(&header);
        Ok((session, plaintext))
    }

    /// Encrypts a message to the peer. The initiator's envelopes carry the
    /// X3DH header until it has decrypted a reply.
    pub fn encrypt(&mut self, plaintext: &[u8]) -> Result<EnvelopeV2, Error> {
        let (header, ct) = self.ratchet.encrypt(&self.ad, plaintext)?;
        let x3dh = match self.role {
            Role::Initiator {
                header,
                awaiting_reply: true,
            } => Some(header),
            _ => None,
        };
        Ok(EnvelopeV2 {
            x3dh,
            msg: RatchetMessage { header, ct },
        })
    }

    /// Where this session sends next: its sending chain (named by the
    /// chain's ratchet public key) and the position of the chain's next
    /// message. `None` until the session can send (a responder before its
    /// first message arrives).
    pub fn sending_position(&self) -> Option<SendingPosition> {
        self.ratchet
            .sending_position()
            .map(|(chain, next)| SendingPosition { chain, next })
    }

    /// Moves the sending chain forward to position `next`: the message keys
    /// passed over are derived and discarded, never used. For a device
    /// that may have lost state it had already sent from (a power cut
    /// after a message left): skipping past every position it could have
    /// used means no message key is used twice. The receiver treats the
    /// gap as messages that have not arrived (section 4). Behind the
    /// current position this changes nothing; more than `MAX_SKIP` ahead it
    /// is refused and changes nothing.
    pub fn skip_sending_to(&mut self, next: u32) -> Result<(), Error> {
        self.ratchet.skip_sending_to(next)
    }

    /// Decrypts a message of this session. On failure the session is
    /// exactly as it was. An X3DH header is refused on the initiator's side
    /// and must be this session's own on the responder's.
    pub fn decrypt(&mut self, envelope: &EnvelopeV2) -> Result<Vec<u8>, Error> {
        self.decrypt_with_keys(envelope, &mut os_key)
    }

    pub(crate) fn decrypt_with_keys(
        &mut self,
        envelope: &EnvelopeV2,
        next_key: KeySource<'_>,
    ) -> Result<Vec<u8>, Error> {
        if !self.accepts_header(envelope.x3dh.as_ref()) {
            return Err(Error::UnexpectedHeader);
        }
        let plaintext =
            self.ratchet
                .decrypt(&self.ad, &envelope.msg.header, &envelope.msg.ct, next_key)?;
        if let Role::Initiator { awaiting_reply, .. } = &mut self.role {
            *awaiting_reply = false;
        }
        Ok(plaintext)
    }

    fn accepts_header(&self, header: Option<&X3dhHeader>) -> bool {
        match (&self.role, header) {
            (_, None) => true,
            (Role::Responder { header: ours }, Some(theirs)) => ours == theirs,
            (Role::Initiator { .. }, Some(_)) => false,
        }
    }

    /// Whether this session was created from `header` (responder side).
    pub fn was_created_by(&self, header: &X3dhHeader) -> bool {
        matches!(&self.role, Role::Responder { header: ours } if ours == header)
    }

    /// The peer's identity as the handshake named it. For a responder this
    /// is the initiator's *claim*: check it against the directory and the
    /// safety number before trusting a message.
    pub fn peer(&self) -> PublicIdentity {
        self.peer
    }

    /// Whether we started this session.
    pub fn is_initiator(&self) -> bool {
        matches!(self.role, Role::Initiator { .. })
    }

    /// How many skipped message keys the session holds.
    pub fn skipped_keys(&self) -> usize {
        self.ratchet.skipped_len()
    }

    /// The session as versioned bytes, every secret included (skipped keys
    /// too). Wiped when dropped; store it encrypted.
    pub fn to_bytes(&self) -> Zeroizing<Vec<u8>> {
        let mut out = StateWriter::new(SESSION_MAGIC, SESSION_VERSION);
        self.write(&mut out);
        out.finish()
    }

    fn write(&self, out: &mut StateWriter) {
        match self.role {
            Role::Initiator {
                header,
                awaiting_reply,
            } => {
                out.u8(0);
                header.write(out);
                out.bool(awaiting_reply);
            }
            Role::Responder { header } => {
                out.u8(1);
                header.write(out);
            }
        }
        out.bytes(&self.ad);
        self.ratchet.write(out);
    }

    /// Reads bytes written by [`Session::to_bytes`].
    pub fn from_bytes(bytes: &[u8]) -> Result<Self, DecodeError> {
        let (mut input, version) = StateReader::new(bytes, SESSION_MAGIC)?;
        if version != SESSION_VERSION {
            return Err(DecodeError::State("unknown session version"));
        }
        let session = Self::read(&mut input)?;
        input.finish()?;
        Ok(session)
    }

    fn read(input: &mut StateReader<'_>) -> Result<Self, DecodeError> {
        let role = match input.u8()? {
            0 => Role::Initiator {
                header: X3dhHeader::read(input)?,
                awaiting_reply: input.bool()?,
            },
            1 => Role::Responder {
                header: X3dhHeader::read(input)?,
            },
            _ => return Err(DecodeError::State("unknown session role")),
        };
        let ad: [u8; AD_LEN] = input.array()?;
        let half = |range: core::ops::Range<usize>| -> Result<PublicIdentity, DecodeError> {
            let mut bytes = [0u8; 64];
            bytes.copy_from_slice(&ad[range]);
            PublicIdentity::from_bytes(&bytes)
                .map_err(|_| DecodeError::State("invalid associated data"))
        };
        let (initiator, responder) = (half(0..64)?, half(64..AD_LEN)?);
        let (Role::Initiator { header, .. } | Role::Responder { header }) = role;
        // The header always names the initiator; the AD must agree.
        if header.identity != initiator {
            return Err(DecodeError::State(
                "associated data does not match the handshake",
            ));
        }
        let peer = match role {
            Role::Initiator { .. } => responder,
            Role::Responder { .. } => initiator,
        };
        Ok(Self {
            role,
            ad,
            peer,
            ratchet: Ratchet::read(input)?,
        })
    }
}

impl fmt::Debug for Session {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Session")
            .field("initiator", &self.is_initiator())
            .field("peer", &self.peer())
            .finish_non_exhaustive()
    }
}

/// All sessions with one peer (at most [`MAX_SESSIONS_PER_PEER`]), and the
/// spec's rules for choosing among them:
///
/// - a message with an X3DH header goes to the session that header created,
///   or creates a new one (the oldest is dropped past the limit);
/// - a message without one is tried on the session that most recently
///   decrypted (the *active* one), then on the others, newest first;
/// - the session that decrypts a message becomes the active one, which is
///   the one `encrypt` sends on.
#[derive(Clone, Default)]
pub struct PeerSessions {
    /// Newest first.
    sessions: Vec<Session>,
    active: usize,
}

impl PeerSessions {
    /// No sessions yet.
    pub fn new() -> Self {
        Self::default()
    }

    /// Starts a new session from the peer's bundle; it becomes active.
    pub fn initiate(&mut self, me: &Identity, bundle: &PreKeyBundle) -> Result<(), Error> {
        let session = Session::initiate(me, bundle)?;
        self.insert_newest(session);
        Ok(())
    }

    fn insert_newest(&mut self, session: Session) {
        self.sessions.insert(0, session);
        self.sessions.truncate(MAX_SESSIONS_PER_PEER);
        self.active = 0;
    }

    /// Whether there is a session to send on.
    pub fn has_session(&self) -> bool {
        !self.sessions.is_empty()
    }

    /// The session `encrypt` sends on.
    pub fn active(&self) -> Option<&Session> {
        self.sessions.get(self.active)
    }

    /// How many sessions are kept.
    pub fn len(&self) -> usize {
        self.sessions.len()
    }

    /// Whether no session is kept.
    pub fn is_empty(&self) -> bool {
        self.sessions.is_empty()
    }

    /// Where the active session sends next (see
    /// [`Session::sending_position`]).
    pub fn sending_position(&self) -> Option<SendingPosition> {
        self.active().and_then(Session::sending_position)
    }

    /// Moves the active session's sending chain forward (see
    /// [`Session::skip_sending_to`]).
    pub fn skip_sending_to(&mut self, next: u32) -> Result<(), Error> {
        self.sessions
            .get_mut(self.active)
            .ok_or(Error::NoSession)?
            .skip_sending_to(next)
    }

    /// Encrypts on the active session.
    pub fn encrypt(&mut self, plaintext: &[u8]) -> Result<EnvelopeV2, Error> {
        self.sessions
            .get_mut(self.active)
            .ok_or(Error::NoSession)?
            .encrypt(plaintext)
    }

    /// Whether one of these sessions was created by this X3DH header (a
    /// first message seen before).
    pub fn has_session_from(&self, header: &X3dhHeader) -> bool {
        self.sessions.iter().any(|s| s.was_created_by(header))
    }

    /// Decrypts a message from this peer, choosing or creating the session
    /// as the spec says. Returns the plaintext; on failure nothing changes.
    pub fn decrypt(
        &mut self,
        me: &Identity,
        prekeys: &mut PreKeyStore,
        envelope: &EnvelopeV2,
    ) -> Result<Vec<u8>, Error> {
        if let Some(header) = &envelope.x3dh {
            if let Some(index) = self.sessions.iter().position(|s| s.was_created_by(header)) {
                return self.decrypt_on(index, envelope);
            }
            let (session, plaintext) = Session::respond(me, prekeys, envelope)?;
            self.insert_newest(session);
            return Ok(plaintext);
        }
        let active = self.active;
        let order: Vec<usize> = std::iter::once(active)
            .chain((0..self.sessions.len()).filter(|&i| i != active))
            .collect();
        let mut last_error = Error::NoSession;
        for index in order {
            match self.decrypt_on(index, envelope) {
                Ok(plaintext) => return Ok(plaintext),
                // A replay is definite: no other session could hold the key.
                Err(Error::Duplicate) => return Err(Error::Duplicate),
                Err(err) => last_error = err,
            }
        }
        Err(last_error)
    }

    fn decrypt_on(&mut self, index: usize, envelope: &EnvelopeV2) -> Result<Vec<u8>, Error> {
        let plaintext = self
            .sessions
            .get_mut(index)
            .ok_or(Error::NoSession)?
            .decrypt(envelope)?;
        self.active = index;
        Ok(plaintext)
    }

    /// All sessions as versioned bytes.
    pub fn to_bytes(&self) -> Zeroizing<Vec<u8>> {
        let mut out = StateWriter::new(PEER_MAGIC, PEER_VERSION);
        out.u8(self.sessions.len() as u8);
        out.u8(self.active as u8);
        for session in &self.sessions {
            session.write(&mut out);
        }
        out.finish()
    }

    /// Reads bytes written by [`PeerSessions::to_bytes`].
    pub fn from_bytes(bytes: &[u8]) -> Result<Self, DecodeError> {
        let (mut input, version) = StateReader::new(bytes, PEER_MAGIC)?;
        if version != PEER_VERSION {
            return Err(DecodeError::State("unknown peer sessions version"));
        }
        let count = usize::from(input.u8()?);
        let active = usize::from(input.u8()?);
        if count > MAX_SESSIONS_PER_PEER
            || (count > 0 && active >= count)
            || (count == 0 && active != 0)
        {
            return Err(DecodeError::State("bad session count"));
        }
        let mut sessions = Vec::with_capacity(count);
        for _ in 0..count {
            sessions.push(Session::read(&mut input)?);
        }
        input.finish()?;
        Ok(Self { sessions, active })
    }
}

impl fmt::Debug for PeerSessions {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PeerSessions")
            .field("sessions", &self.sessions)
            .field("active", &self.active)
            .finish()
    }
}

/// Sessions with every device of one peer (spec section 9): section 3's
/// rules, kept per (peer user, peer device). A device's sessions are used
/// only for that device; which device a message came from is the server's
/// word, used only to choose the sessions to try.
#[derive(Clone, Default)]
pub struct DeviceSessions {
    devices: std::collections::BTreeMap<u32, PeerSessions>,
}

const DEVICES_MAGIC: &[u8; 4] = b"GLDS";
const DEVICES_VERSION: u8 = 1;
/// Most devices whose sessions are kept per peer: the current 16, and some
/// removed ones whose late messages may still arrive.
pub const MAX_DEVICE_SESSIONS: usize = 64;

impl DeviceSessions {
    /// No sessions yet.
    pub fn new() -> Self {
        Self::default()
    }

    /// The sessions with one device, if any.
    pub fn device(&self, device: u32) -> Option<&PeerSessions> {
        self.devices.get(&device)
    }

    /// The sessions with one device, created empty if need be.
    pub fn device_mut(&mut self, device: u32) -> &mut PeerSessions {
        self.devices.entry(device).or_default()
    }

    /// The devices sessions are kept with.
    pub fn devices(&self) -> impl Iterator<Item = u32> + '_ {
        self.devices.keys().copied()
    }

    /// Forgets the sessions of devices not in `keep` (removed devices).
    pub fn retain(&mut self, keep: &[u32]) {
        self.devices.retain(|id, _| keep.contains(id));
    }

    /// Forgets the sessions of one device.
    pub fn forget(&mut self, device: u32) {
        self.devices.remove(&device);
    }

    /// All sessions as versioned bytes.
    pub fn to_bytes(&self) -> Zeroizing<Vec<u8>> {
        let mut out = StateWriter::new(DEVICES_MAGIC, DEVICES_VERSION);
        out.u32(self.devices.len() as u32);
        for (id, sessions) in &self.devices {
            let bytes = sessions.to_bytes();
            out.u32(*id);
            out.u32(bytes.len() as u32);
            out.bytes(&bytes);
        }
        out.finish()
    }

    /// Reads bytes written by [`DeviceSessions::to_bytes`].
    pub fn from_bytes(bytes: &[u8]) -> Result<Self, DecodeError> {
        let (mut input, version) = StateReader::new(bytes, DEVICES_MAGIC)?;
        if version != DEVICES_VERSION {
            return Err(DecodeError::State("unknown device sessions version"));
        }
        let count = input.u32()? as usize;
        if count > MAX_DEVICE_SESSIONS {
            return Err(DecodeError::State("too many devices"));
        }
        let mut devices = std::collections::BTreeMap::new();
        for _ in 0..count {
            let id = input.u32()?;
            let len = input.u32()? as usize;
            let sessions = PeerSessions::from_bytes(input.take_bytes(len)?)?;
            if devices.insert(id, sessions).is_some() {
                return Err(DecodeError::State("a device twice"));
            }
        }
        input.finish()?;
        Ok(Self { devices })
    }
}

impl fmt::Debug for DeviceSessions {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_map().entries(self.devices.iter()).finish()
    }
}
