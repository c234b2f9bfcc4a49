-- A binding either enforces its policy or only observes it (shadow mode): an observed policy is
-- evaluated next to the enforcing ones and its would-be decision recorded, never enforced.
ALTER TABLE bindings ADD COLUMN mode TEXT COLLATE "C" NOT NULL DEFAULT 'enforce';
