//! A provider-neutral directory for the fake provider APIs (Google Admin
//! SDK, Microsoft Graph, Okta): users, groups and memberships generated
//! deterministically at any size, mutated by tests, with a change log so
//! fakes can answer delta / `lastUpdated` queries.
//!
//! Every mutation advances a logical clock (`tick`); objects remember the
//! tick of their last change and removals leave tombstones, so "what
//! changed after tick T" is exact. Fakes render these records into their
//! provider's JSON shapes; nothing here knows any provider.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::{Arc, Mutex, MutexGuard};

/// One person in the directory.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FakeUser {
    /// The provider's stable id.
    pub id: String,
    pub email: String,
    pub given_name: String,
    pub family_name: String,
    /// Suspended / deactivated in the provider.
    pub suspended: bool,
    pub department: String,
    pub title: String,
    pub employee_number: String,
    /// The manager's provider id.
    pub manager_id: Option<String>,
    /// Logical time of the last change.
    pub updated: u64,
    /// Logical time of creation.
    pub created: u64,
}

/// One group.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FakeGroup {
    pub id: String,
    pub name: String,
    pub email: String,
    pub description: String,
    pub updated: u64,
    pub created: u64,
}

/// One entry of the change log.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FakeChange {
    User(String),
    UserRemoved(String),
    Group(String),
    GroupRemoved(String),
    MemberAdded { group: String, user: String },
    MemberRemoved { group: String, user: String },
}

/// The directory itself. Use [`SharedDirectory`] to hand it to a fake.
#[derive(Debug, Clone, Default)]
pub struct FakeDirectory {
    pub users: BTreeMap<String, FakeUser>,
    pub groups: BTreeMap<String, FakeGroup>,
    /// group id → user ids.
    pub members: BTreeMap<String, BTreeSet<String>>,
    /// The logical clock: the tick of the newest change.
    pub tick: u64,
    /// `(tick, change)` in order.
    pub log: Vec<(u64, FakeChange)>,
    /// Tokens for ticks before this have expired (their changes are no
    /// longer in the log).
    pub log_floor: u64,
    next_serial: u64,
}

/// A small deterministic generator (xorshift64*), so generated
/// directories are the same in every run without a `rand` dependency.
#[derive(Debug, Clone)]
pub struct Seq(u64);

impl Seq {
    pub fn new(seed: u64) -> Seq {
        Seq(seed.max(1))
    }
    pub fn next_u64(&mut self) -> u64 {
        let mut x = self.0;
        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        self.0 = x;
        x.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }
    pub fn below(&mut self, n: u64) -> u64 {
        if n == 0 { 0 } else { self.next_u64() % n }
    }
}

const GIVEN: &[&str] = &[
    "Ada",
    "Grace",
    "Alan",
    "Edsger",
    "Barbara",
    "Donald",
    "Frances",
    "Ken",
    "Margaret",
    "Dennis",
    "Radia",
    "John",
    "Katherine",
    "Leslie",
    "Hedy",
    "Tim",
];
const FAMILY: &[&str] = &[
    "Lovelace",
    "Hopper",
    "Turing",
    "Dijkstra",
    "Liskov",
    "Knuth",
    "Allen",
    "Thompson",
    "Hamilton",
    "Ritchie",
    "Perlman",
    "McCarthy",
    "Johnson",
    "Lamport",
    "Lamarr",
    "Berners-Lee",
];
const DEPARTMENTS: &[&str] = &[
    "Engineering",
    "Sales",
    "Finance",
    "Support",
    "Legal",
    "People",
];
const TITLES: &[&str] = &[
    "Engineer",
    "Manager",
    "Analyst",
    "Director",
    "Associate",
    "Lead",
];

impl FakeDirectory {
    /// A directory of `users` users, `groups` groups and about
    /// `memberships` memberships (spread over the groups; duplicates are
    /// skipped), the same for the same arguments. Users are
    /// `u000001`-style ids with `user1@example.com`-style emails; groups
    /// `g00001`.
    pub fn generate(users: usize, groups: usize, memberships: usize) -> FakeDirectory {
        let mut d = FakeDirectory::default();
        let mut seq = Seq::new(0x5eed_0001);
        for i in 1..=users {
            let id = format!("u{i:06}");
            let manager_id = (i > 10).then(|| format!("u{:06}", 1 + seq.below(10)));
            let user = FakeUser {
                email: format!("user{i}@example.com"),
                given_name: GIVEN[i % GIVEN.len()].to_owned(),
                family_name: FAMILY[(i / GIVEN.len()) % FAMILY.len()].to_owned(),
                suspended: false,
                department: DEPARTMENTS[seq.below(DEPARTMENTS.len() as u64) as usize].to_owned(),
                title: TITLES[seq.below(TITLES.len() as u64) as usize].to_owned(),
                employee_number: format!("E{i:07}"),
                manager_id,
                updated: 0,
                created: 0,
                id: id.clone(),
            };
            d.users.insert(id, user);
        }
        for i in 1..=groups {
            let id = format!("g{i:05}");
            d.groups.insert(
                id.clone(),
                FakeGroup {
                    name: format!("Group {i}"),
                    email: format!("group{i}@example.com"),
                    description: format!("Generated group {i}"),
                    updated: 0,
                    created: 0,
                    id: id.clone(),
                },
            );
            d.members.insert(id, BTreeSet::new());
        }
        if users > 0 && groups > 0 {
            for i in 0..memberships {
                let group = format!("g{:05}", 1 + i % groups);
                let user = format!("u{:06}", 1 + seq.below(users as u64));
                d.members.entry(group).or_default().insert(user);
            }
        }
        d.next_serial = users.max(groups) as u64 + 1;
        d
    }

    fn bump(&mut self, change: FakeChange) -> u64 {
        self.tick += 1;
        self.log.push((self.tick, change));
        self.tick
    }

    /// A new unique serial for ids the tests create.
    pub fn serial(&mut self) -> u64 {
        self.next_serial += 1;
        self.next_serial
    }

    /// Adds a user and returns its id.
    pub fn add_user(&mut self, email: &str, given: &str, family: &str) -> String {
        let id = format!("u9{:06}", self.serial());
        let tick = self.bump(FakeChange::User(id.clone()));
        self.users.insert(
            id.clone(),
            FakeUser {
                id: id.clone(),
                email: email.to_owned(),
                given_name: given.to_owned(),
                family_name: family.to_owned(),
                suspended: false,
                department: "Engineering".into(),
                title: "Engineer".into(),
                employee_number: format!("E9{:06}", self.next_serial),
                manager_id: None,
                updated: tick,
                created: tick,
            },
        );
        id
    }

    /// Changes a user in place (`f` edits it) and records the change.
    pub fn update_user(&mut self, id: &str, f: impl FnOnce(&mut FakeUser)) {
        let tick = self.bump(FakeChange::User(id.to_owned()));
        let user = self.users.get_mut(id).expect("no such fake user");
        f(user);
        user.updated = tick;
    }

    /// Changes the title of every `every`-th user (1 % of them for 100) and
    /// returns how many changed.
    pub fn change_every(&mut self, every: usize) -> usize {
        let ids: Vec<String> = self.users.keys().step_by(every.max(1)).cloned().collect();
        for id in &ids {
            self.update_user(id, |u| u.title = format!("{} II", u.title));
        }
        ids.len()
    }

    /// Removes a user (and its memberships, as providers do).
    pub fn remove_user(&mut self, id: &str) {
        if self.users.remove(id).is_none() {
            return;
        }
        let groups: Vec<String> = self
            .members
            .iter()
            .filter(|(_, m)| m.contains(id))
            .map(|(g, _)| g.clone())
            .collect();
        for g in groups {
            self.remove_member(&g, id);
        }
        self.bump(FakeChange::UserRemoved(id.to_owned()));
    }

    /// Adds a group and returns its id.
    pub fn add_group(&mut self, name: &str) -> String {
        let id = format!("g9{:05}", self.serial());
        let tick = self.bump(FakeChange::Group(id.clone()));
        self.groups.insert(
            id.clone(),
            FakeGroup {
                id: id.clone(),
                name: name.to_owned(),
                email: format!("{}@example.com", name.to_lowercase().replace(' ', "-")),
                description: String::new(),
                updated: tick,
                created: tick,
            },
        );
        self.members.insert(id.clone(), BTreeSet::new());
        id
    }

    pub fn rename_group(&mut self, id: &str, name: &str) {
        let tick = self.bump(FakeChange::Group(id.to_owned()));
        let group = self.groups.get_mut(id).expect("no such fake group");
        group.name = name.to_owned();
        group.updated = tick;
    }

    pub fn remove_group(&mut self, id: &str) {
        if self.groups.remove(id).is_some() {
            self.members.remove(id);
            self.bump(FakeChange::GroupRemoved(id.to_owned()));
        }
    }

    pub fn add_member(&mut self, group: &str, user: &str) {
        let added = self
            .members
            .entry(group.to_owned())
            .or_default()
            .insert(user.to_owned());
        if added {
            self.bump(FakeChange::MemberAdded {
                group: group.to_owned(),
                user: user.to_owned(),
            });
        }
    }

    pub fn remove_member(&mut self, group: &str, user: &str) {
        let removed = self.members.get_mut(group).is_some_and(|m| m.remove(user));
        if removed {
            self.bump(FakeChange::MemberRemoved {
                group: group.to_owned(),
                user: user.to_owned(),
            });
        }
    }

    /// Log entries after `tick`, or `None` when `tick` is older than the
    /// log keeps (the provider's "token expired").
    pub fn changes_after(&self, tick: u64) -> Option<Vec<(u64, FakeChange)>> {
        if tick < self.log_floor {
            return None;
        }
        let start = self.log.partition_point(|(t, _)| *t <= tick);
        Some(self.log[start..].to_vec())
    }

    /// Forgets the change log: every token/checkpoint issued so far expires.
    pub fn expire_log(&mut self) {
        self.log.clear();
        self.log_floor = self.tick;
    }

    /// Total memberships.
    pub fn membership_count(&self) -> usize {
        self.members.values().map(BTreeSet::len).sum()
    }
}

/// A directory shared between a fake server and the test driving it.
#[derive(Debug, Clone, Default)]
pub struct SharedDirectory(Arc<Mutex<FakeDirectory>>);

impl SharedDirectory {
    pub fn new(directory: FakeDirectory) -> SharedDirectory {
        SharedDirectory(Arc::new(Mutex::new(directory)))
    }

    /// Locks the directory (poisoning is ignored: a panicking test already failed).
    pub fn lock(&self) -> MutexGuard<'_, FakeDirectory> {
        self.0.lock().unwrap_or_else(|p| p.into_inner())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn generation_is_deterministic_and_sized() {
        let a = FakeDirectory::generate(1000, 50, 2000);
        let b = FakeDirectory::generate(1000, 50, 2000);
        assert_eq!(a.users.len(), 1000);
        assert_eq!(a.groups.len(), 50);
        assert_eq!(a.users, b.users);
        assert_eq!(a.members, b.members);
        let count = a.membership_count();
        assert!(count > 1800 && count <= 2000, "{count}");
    }

    #[test]
    fn change_log_answers_after_tick_and_expires() {
        let mut d = FakeDirectory::generate(10, 2, 10);
        let start = d.tick;
        let id = d.add_user("new@example.com", "New", "Person");
        d.add_member("g00001", &id);
        d.remove_user(&id);
        let changes = d.changes_after(start).expect("log kept");
        assert_eq!(changes.len(), 4, "{changes:?}");
        assert!(matches!(changes[3].1, FakeChange::UserRemoved(_)));
        d.expire_log();
        assert!(d.changes_after(start).is_none());
        assert_eq!(d.changes_after(d.tick).map(|c| c.len()), Some(0));
    }
}
