import TamgaCore

extension Ledger {
    /// `token.mint`: the issuer creates tokens against a fiat deposit.
    func mint(_ body: Mint, context: inout ExecutionContext, state: inout WorkingState) throws {
        try state.requireRole(.tokenIssuer, of: context.signer, for: "minting")
        guard body.amount > .zero else { throw Rejection(.invalidAmount, "the amount must be positive") }
        _ = try state.party(body.to)
        let supply = try state.record(Tiyn.self, RecordKey.supply) ?? .zero
        var account = try state.account(body.to)
        guard let newSupply = supply.adding(body.amount), let balance = account.balance.adding(body.amount) else {
            throw Rejection(.invalidAmount, "minting \(body.amount) would overflow the supply")
        }
        account.balance = balance
        state.put(account, at: RecordKey.account(body.to))
        state.put(newSupply, at: RecordKey.supply)
        context.emit(LedgerEvent("token.minted", parties: [body.to, context.signer], amount: body.amount))
    }

    /// `token.burn`: the issuer destroys tokens from its own account on redemption.
    func burn(_ body: Burn, context: inout ExecutionContext, state: inout WorkingState) throws {
        try state.requireRole(.tokenIssuer, of: context.signer, for: "burning")
        guard body.amount > .zero else { throw Rejection(.invalidAmount, "the amount must be positive") }
        var account = try state.account(context.signer)
        guard let balance = account.balance.subtracting(body.amount) else {
            throw Rejection(.insufficientFunds, "\(context.signer) has less available than \(body.amount)")
        }
        let supply = try state.record(Tiyn.self, RecordKey.supply) ?? .zero
        account.balance = balance
        state.put(account, at: RecordKey.account(context.signer))
        state.put(try supply.minus(body.amount), at: RecordKey.supply)
        context.emit(LedgerEvent("token.burned", parties: [context.signer], amount: body.amount))
    }

    /// `token.transfer`: the holder pays another party from its available balance.
    func transfer(_ body: Transfer, context: inout ExecutionContext, state: inout WorkingState) throws {
        guard body.amount > .zero else { throw Rejection(.invalidAmount, "the amount must be positive") }
        guard body.to != context.signer else { throw Rejection(.invalidAmount, "a transfer to oneself moves nothing") }
        _ = try state.party(body.to)
        try move(body.amount, from: context.signer, to: body.to, state: &state)
        context.emit(LedgerEvent("token.transferred", parties: [context.signer, body.to], amount: body.amount))
    }

    /// Moves available tokens between accounts.
    func move(_ amount: Tiyn, from payer: PartyID, to payee: PartyID, state: inout WorkingState) throws {
        var from = try state.account(payer)
        guard let left = from.balance.subtracting(amount) else {
            throw Rejection(.insufficientFunds, "\(payer) has less available than \(amount)")
        }
        from.balance = left
        state.put(from, at: RecordKey.account(payer))
        var to = try state.account(payee)
        to.balance = try to.balance.plus(amount)
        state.put(to, at: RecordKey.account(payee))
    }
}
