-- How the SCIM client labelled each member (`members[].display`, RFC 7643
-- §4.2), answered back as sent; NULL shows the member's own name.
-- Keep in step with the other backend.
ALTER TABLE directory_memberships ADD COLUMN display TEXT;
