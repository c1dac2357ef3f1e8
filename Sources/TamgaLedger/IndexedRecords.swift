public import TamgaCore
import Foundation

/// The records a node keeps an index of beside the state: listings (the offers list), pledges
/// that wait for a registrar (the review list) and open deeds (each party's deeds). A node builds
/// these from the events of the blocks it executes; one that joined by state sync has no blocks
/// before its join and finds the records in the fetched state instead.
///
/// A snapshot record carries its key's hash, not the key, so a record is recognised by its shape
/// and then proven by the hash: the key rebuilt from the decoded record must hash to the one the
/// verified snapshot gave. Nothing else in the state can pass both.
public enum IndexedRecord: Hashable, Sendable {
    case listing(CadastralNumber)
    case pledgeUnderReview(Pledge)
    case openDeed(Deed)

    public init?(keyHash: Hash, value: [UInt8]) {
        // Canonical JSON sorts members by name: a listing's first is `cadastralNumber`, a pledge's
        // `bank`, a deed's `acceptedPledges`. Decided pledges and closed deeds, which stay in the
        // state for good, are passed over by their status before any decoding.
        if value.starts(with: Self.listingStart), let listing = try? JSONDecoder().decode(Listing.self, from: Data(value)),
           Hash.sha256(RecordKey.listing(listing.cadastralNumber)) == keyHash {
            self = .listing(listing.cadastralNumber)
        } else if value.starts(with: Self.pledgeStart), Self.pendingPledgeStatus.contains(where: { value.firstRange(of: $0) != nil }),
                  let pledge = try? JSONDecoder().decode(Pledge.self, from: Data(value)),
                  pledge.awaitsReview, Hash.sha256(RecordKey.pledge(pledge.id)) == keyHash {
            self = .pledgeUnderReview(pledge)
        } else if value.starts(with: Self.deedStart), value.firstRange(of: Self.openDeedStatus) != nil,
                  let deed = try? JSONDecoder().decode(Deed.self, from: Data(value)),
                  deed.status == .open, Hash.sha256(RecordKey.deed(deed.id)) == keyHash {
            self = .openDeed(deed)
        } else {
            return nil
        }
    }

    private static let listingStart = Array(#"{"cadastralNumber":"#.utf8)
    private static let pledgeStart = Array(#"{"bank":"#.utf8)
    private static let deedStart = Array(#"{"acceptedPledges":"#.utf8)
    private static let pendingPledgeStatus = [Array(#""status":"proposed""#.utf8), Array(#""status":"signed""#.utf8)]
    private static let openDeedStatus = Array(#""status":"open""#.utf8)
}

extension Pledge {
    /// Proposed, or signed by the owners: a registrar has yet to register or reject it.
    public var awaitsReview: Bool { status == .proposed || status == .signed }
}
