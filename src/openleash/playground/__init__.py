"""Example action requests for the policy playground (``openleash playground list|run``).

Each ``*.json`` file here is one bare ActionRequest; its file name, without ``.json``, is the
scenario's name.
"""
