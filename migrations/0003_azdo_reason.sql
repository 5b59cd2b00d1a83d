-- 0003: the reason word of the last Azure DevOps answer that failed (TokenExpired, SignInPage,
-- Forbidden, RateLimited, PoolNotFound, ...), so the Connected condition can say more than the
-- connection class: an expired PAT reads "TokenExpired", not just "AuthFailed".
ALTER TABLE pools ADD COLUMN azdo_reason TEXT;
