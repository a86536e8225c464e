"""Cloud Director automation, written with VMware's pyvcloud (unmodified),
against a running tokend: log in at the provider and at a tenant org, read
the session, list orgs, take an API token by the JWT-bearer grant, refresh
it, rehydrate a client from the derived access token, revoke the token and
see the rehydrated client refused. pyvcloud has no call for client
registration or the token endpoint, so those go through `requests` (which
pyvcloud itself uses). Prints one JSON object of what it saw; any assertion
failure exits non-zero.

usage: pyvcloud_client.py BASE_URL ADMIN_PASSWORD TENANT_ORG USER PASSWORD
"""

import json
import os
import sys
import tempfile

import requests
from pyvcloud.vcd.client import BasicLoginCredentials, Client
from pyvcloud.vcd.exceptions import UnauthorizedException

base, admin_password, tenant, user, password = sys.argv[1:6]
JWT_BEARER = "urn:ietf:params:oauth:grant-type:jwt-bearer"
log_dir = tempfile.mkdtemp()
seen = {}


def client():
    # pyvcloud logs every request to a file; keep it out of the tree.
    return Client(base, log_file=os.path.join(log_dir, "vcd_pysdk.log"))


def org_names(vcd):
    return sorted(org.get("name") for org in vcd.get_org_list())


def refused(call):
    try:
        call()
    except UnauthorizedException:
        return True
    return False


# The provider: pyvcloud negotiates the version against /api/versions, logs
# in at /cloudapi/1.0.0/sessions/provider and follows the session's links.
provider = client()
provider.set_credentials(BasicLoginCredentials("administrator", "System", admin_password))
session = provider.get_vcloud_session()
seen["provider"] = {
    "api_version": provider.get_api_version(),
    "is_sysadmin": provider.is_sysadmin(),
    "user": session.get("user"),
    "org": session.get("org"),
    "orgs": org_names(provider),
}

# A tenant user.
vcd = client()
vcd.set_credentials(BasicLoginCredentials(user, tenant, password))
session = vcd.get_vcloud_session()
seen["tenant"] = {
    "is_sysadmin": vcd.is_sysadmin(),
    "user": session.get("user"),
    "org": session.get("org"),
    "user_id": session.get("userId"),
    "orgs": org_names(vcd),
    "logged_in_org": vcd.get_org().get("name"),
}
session_token = vcd.get_access_token()
bearer = {"Authorization": f"Bearer {session_token}"}

# An OAuth client, then one API token for it by the JWT-bearer grant.
registered = requests.post(
    f"{base}/oauth/tenant/{tenant}/register",
    json={"client_name": "pyvcloud-automation"},
    headers=bearer,
    timeout=10,
)
assert registered.status_code == 200, registered.text
client_id = registered.json()["client_id"]
grant = {"grant_type": JWT_BEARER, "client_id": client_id, "assertion": session_token}
granted = requests.post(f"{base}/oauth/tenant/{tenant}/token", data=grant, timeout=10)
assert granted.status_code == 200, granted.text
api_token = granted.json()["refresh_token"]
again = requests.post(f"{base}/oauth/tenant/{tenant}/token", data=grant, timeout=10)
seen["second_grant"] = {"status": again.status_code, "error": again.json().get("error")}

# The API token refreshes like any, and its access token rehydrates a client.
refreshed = requests.post(
    f"{base}/oauth/tenant/{tenant}/token",
    data={"grant_type": "refresh_token", "refresh_token": api_token},
    timeout=10,
)
assert refreshed.status_code == 200, refreshed.text
derived = refreshed.json()["access_token"]
rehydrated = client()
rehydrated.rehydrate_from_token(derived, is_jwt_token=True)
seen["rehydrated"] = {
    "user": rehydrated.get_vcloud_session().get("user"),
    "orgs": org_names(rehydrated),
}

# The token, found in Cloud Director's listing, revoked through pyvcloud's
# own DELETE; the rehydrated client is refused from then on.
listing = requests.get(
    f"{base}/cloudapi/1.0.0/tokens",
    params={"filter": "name==pyvcloud-automation"},
    headers=bearer,
    timeout=10,
).json()
assert listing["resultTotal"] == 1, listing
token_urn = listing["values"][0]["id"]
seen["token_urn"] = token_urn
vcd.delete_resource(f"{vcd.get_cloudapi_uri()}/1.0.0/tokens/{token_urn}")
seen["rehydrated_refused_after_revocation"] = refused(rehydrated.get_org_list)
seen["rehydrate_refused_after_revocation"] = refused(
    lambda: client().rehydrate_from_token(derived, is_jwt_token=True)
)

# Logging out ends the session: its token no longer rehydrates.
vcd.logout()
seen["session_refused_after_logout"] = refused(
    lambda: client().rehydrate_from_token(session_token, is_jwt_token=True)
)
provider.logout()

print(json.dumps(seen))
