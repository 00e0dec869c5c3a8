"""Small mapping YAML samples shared by the mapping tests."""

BASIC = """
version: 1
tables:
  - name: users
    source: users
    target: users
    key: [id]
    filter:
      - {column: deleted, op: ne, value: true}
    columns:
      id: id
      email: {from: email_address}
      status: {from: status_code, transform: int_code_to_enum, args: {codes: {1: active, 2: suspended}}}
      full_name: {from: [first_name, last_name], transform: concat_ws, args: {sep: " "}}
      kind: {const: member}
    drop: [legacy_flag]
"""

# users is split into accounts + profiles; archived_users is merged into accounts with a discriminator.
MERGE_SPLIT = """
version: 1
tables:
  - name: users
    source: users
    target: accounts
    key: [source, id]
    columns:
      source: {const: live}
      id: id
      balance: {from: balance_cents, transform: cents_to_numeric}
    drop: [bio]
  - name: archived_users
    source: archived_users
    target: accounts
    key: [source, id]
    columns:
      source: {const: archived}
      id: id
      balance: {from: balance_cents, transform: cents_to_numeric}
  - name: user_profiles
    source: users
    target: profiles
    key: [user_id]
    columns:
      user_id: id
      bio: bio
    drop: [balance_cents]
"""
