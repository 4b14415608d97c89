"""Placeholder: routes for the 'datasource' group are being written."""

from flask import Blueprint

blueprint = Blueprint("datasource", __name__)
