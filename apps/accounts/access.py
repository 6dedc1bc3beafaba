def accounts_for_user(user):
    return []
